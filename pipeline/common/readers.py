"""Reading what earlier stages wrote: every problem is one UserError line naming the file and `dvc repro`."""

from __future__ import annotations

import json
import zipfile
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


def _check_keys(path: Path, present: Iterable[str], keys: Iterable[str], what: str) -> None:
    missing = sorted(set(keys) - set(present))
    if missing:
        raise UserError(f"{path}: missing {what} {', '.join(missing)}; {RERUN}")


def read_json(path: str | Path, keys: Iterable[str] = ()) -> dict:
    """A stage's JSON object holding at least `keys`; missing file, bad JSON or a missing key -> UserError."""
    path = require(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise UserError(f"{path}: not valid JSON ({err}); {RERUN}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: holds a JSON {type(data).__name__}, not an object; {RERUN}")
    _check_keys(path, data, keys, "keys")
    return data


def read_csv(path: str | Path, columns: Iterable[str] = ()) -> pd.DataFrame:
    """A stage's CSV table holding at least `columns`; missing file, unparsable CSV or a missing column -> UserError."""
    path = require(path)
    try:
        frame = pd.read_csv(path)
    except ValueError as err:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        raise UserError(f"{path}: not a readable CSV table ({' '.join(str(err).split())}); {RERUN}") from None
    _check_keys(path, frame.columns, columns, "columns")
    return frame


def read_npz(path: str | Path, keys: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every array of a stage's .npz file, holding at least `keys`; missing, damaged or short of keys -> UserError."""
    path = require(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as err:  # TypeError: a bare .npy array
        raise UserError(f"{path}: not a readable .npz file ({err.__class__.__name__}: {err}); {RERUN}") from None
    _check_keys(path, arrays, keys, "arrays")
    return arrays
