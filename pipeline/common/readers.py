"""Reading what earlier stages wrote: every problem is one UserError line naming the file and `dvc repro`.

One set of checks for every stage that reads another stage's outputs: a file missing, empty or cut short, a JSON
key or CSV column missing, a number that is not one (or NaN, or infinite), a table with the wrong rows. Each is
`<file>: <what is wrong>; run `dvc repro` to rewrite it`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common.errors import UserError

RERUN = "run `dvc repro` to rewrite it"


def require(path: str | Path) -> Path:
    """`path` as a Path when it is a file; otherwise a UserError telling to run `dvc repro`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: missing (run `dvc repro` to produce it)")
    return path


def damaged(path: str | Path, what: str) -> UserError:
    """The error of an output of an earlier stage that is there but wrong: `<path>: <what>; run dvc repro ...`."""
    return UserError(f"{path}: {what}; {RERUN}")


def _check_keys(path: Path, present: Iterable[str], keys: Iterable[str], what: str) -> None:
    missing = sorted(set(keys) - set(present))
    if missing:
        raise damaged(path, f"missing {what} {', '.join(missing)}")


class Record(dict):
    """A JSON object read from a file: reading a key it lacks is a UserError naming the file and the key's place
    (`per_seed[1].seed`), so a reader that does not list every key it uses still fails with one line."""

    def __init__(self, data: dict, path: Path, where: str = "") -> None:
        super().__init__({key: _wrap(value, path, f"{where}{key}") for key, value in data.items()})
        self.path, self.where = path, where

    def __missing__(self, key):
        raise damaged(self.path, f"missing key {self.where}{key}")


def _wrap(value, path: Path, where: str):
    if isinstance(value, dict):
        return Record(value, path, f"{where}.")
    if isinstance(value, list):
        return [_wrap(item, path, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _non_finite(value, where: str = "") -> str | None:
    """The place of the first NaN or infinite number in parsed JSON, with its value, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where or 'the value'} is {json.dumps(value)}, not a finite number"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        place = f"{where}[{key}]" if isinstance(value, list) else f"{where}.{key}" if where else str(key)
        if (found := _non_finite(item, place)) is not None:
            return found
    return None


def _at(data, dotted: str) -> list[tuple[str, object]]:
    """Every (place, value) that the dotted path `dotted` names; a list on the way stands for each of its items
    ("per_seed.seed": the seed of every per_seed row). Raises LookupError(place) for the first one missing."""
    found = [("", data)]
    for key in dotted.split("."):
        step = []
        for place, node in found:
            items = list(enumerate(node)) if isinstance(node, list) else [(None, node)]
            for i, item in items:
                here = place if i is None else f"{place}[{i}]"
                if not isinstance(item, dict) or key not in item:
                    raise LookupError(f"{here}.{key}" if here else key)
                step.append((f"{here}.{key}" if here else key, item[key]))
        found = step
    return found


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_json(path: str | Path, keys: Iterable[str] = (), numbers: Iterable[str] = ()) -> Record:
    """A stage's JSON object (a Record) holding at least `keys`, whose values at `numbers` are numbers (or lists of
    numbers); both are dotted paths ("test_accuracy.mean", "per_seed.seed"). A missing file, bad JSON, a NaN or
    infinite number anywhere, a missing key or a value that is not a number -> UserError."""
    path = require(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise damaged(path, f"not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise damaged(path, f"holds a JSON {type(data).__name__}, not an object")
    if (problem := _non_finite(data)) is not None:
        raise damaged(path, problem)
    numbers = tuple(numbers)
    missing = []
    for dotted in (*keys, *numbers):
        try:
            values = _at(data, dotted)
        except LookupError as err:
            missing.append(str(err.args[0]))
            continue
        if dotted in numbers:
            for place, value in values:
                if not (_is_number(value) or isinstance(value, list) and all(map(_is_number, value))):
                    raise damaged(path, f"{place} is {json.dumps(value)[:40]}, not a number")
    if missing:
        raise damaged(path, f"missing {'key' if len(missing) == 1 else 'keys'} {', '.join(dict.fromkeys(missing))}")
    return Record(data, path)


def _ragged(text: str) -> str | None:
    """What is wrong with the first row shorter or longer than the header (a file cut short), or None."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, [])
    for line, row in enumerate(rows, start=2):
        if row and len(row) != len(header):
            return f"line {line} has {len(row)} fields where the header has {len(header)} (cut short?)"
    return None


def read_csv(path: str | Path, columns: Iterable[str] = (), numeric: Iterable[str] = (), rows: int | None = None,
             index: tuple[str, Iterable] | None = None) -> pd.DataFrame:
    """A stage's CSV table holding at least `columns` and `numeric`, the latter numbers only (no empty cell, NaN or
    infinity); with `rows`, exactly that many rows; with `index` (column, values), a row for each of the values in
    that column. A missing, empty or cut file, or any of those not met -> UserError."""
    path = require(path)
    try:
        text = path.read_text(encoding="utf-8")
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise damaged(path, "empty") from None
    except ValueError as err:  # pandas' ParserError, UnicodeDecodeError
        raise damaged(path, f"not a readable CSV table ({' '.join(str(err).split())})") from None
    if (problem := _ragged(text)) is not None:
        raise damaged(path, problem)
    numeric = tuple(numeric)
    _check_keys(path, frame.columns, (*columns, *numeric), "columns")
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if len(bad):
            shown = "an empty cell" if pd.isna(frame[column].iloc[bad[0]]) else repr(frame[column].iloc[bad[0]])
            raise damaged(path, f"column {column} holds {shown} on line {bad[0] + 2}, not a finite number")
    if rows is not None and len(frame) != rows:
        raise damaged(path, f"has {_rows(len(frame))}, expected {rows}")
    if index is not None:
        column, names = index
        absent = [str(name) for name in names if name not in set(frame[column])]
        if absent:
            raise damaged(path, f"no row for {column} {', '.join(absent)}")
    return frame


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def same_rows(frames: dict[Path, pd.DataFrame], column: str) -> None:
    """Tables that describe the same rows (one per seed, say): each has as many rows as most of them, and the same
    `column`; the first that differs -> UserError naming it."""
    if not frames:
        return
    expected = Counter(len(f) for f in frames.values()).most_common(1)[0][0]
    reference = next(f for f in frames.values() if len(f) == expected)[column].to_numpy()
    for path, frame in frames.items():
        if len(frame) != expected:
            raise damaged(path, f"has {_rows(len(frame))}, expected {expected} (as the other {path.name} files)")
        if not np.array_equal(frame[column].to_numpy(), reference):
            raise damaged(path, f"column {column} differs from that of the other {path.name} files")


def read_npz(path: str | Path, keys: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every array of a stage's .npz file, holding at least `keys`; missing, damaged or short of keys -> UserError."""
    path = require(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as err:  # TypeError: a bare .npy array
        raise damaged(path, f"not a readable .npz file ({err.__class__.__name__}: {err})") from None
    _check_keys(path, arrays, keys, "arrays")
    return arrays
