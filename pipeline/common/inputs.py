"""The data files and params.yaml values a stage read, kept to what they were when it read them.

DVC hashes a stage's dependencies and reads its params after the stage ends, so a data file replaced or a params
value changed while a stage ran (a second `dvc exp run -S` in the same workspace, an editor) would be recorded in
dvc.lock as what produced outputs that came from the old one. A stage run (pipeline.common.errors.run) therefore
records the SHA-256 of each data file as it opens it (pipeline.common.h5.open_file) and the value of each params.yaml
key it loads (pipeline.common.config.load), and just before its outputs are swapped in (pipeline.common.staging)
checks that every file and value is still what it was: if not, it stops with one line each and publishes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.common import params_file
from pipeline.common.errors import UserError, stage

_read: dict[Path, str] | None = None  # path -> hash when first read; None outside a stage run
_params: dict[Path, dict[str, object]] = {}  # params file -> {dotted key: value when loaded}, during a stage run


def sha256(path: str | Path) -> str:
    """The file's SHA-256, as hex (what `sha256sum` prints)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def start() -> None:
    """Record the data files and params read from now on (a stage run begins)."""
    global _read
    _read = {}
    _params.clear()


def stop() -> None:
    """Record nothing more (the stage run has ended)."""
    global _read
    _read = None
    _params.clear()


def record_params(path: Path, tree: dict, keys: list[str]) -> None:
    """Note the values of the dotted `keys` in `tree`, the params file `path` as the stage loaded it."""
    if _read is not None:
        noted = _params.setdefault(Path(path), {})
        for key in keys:
            noted.setdefault(key, params_file.value_at(tree, key))


def record(path: str | Path) -> None:
    """Note the hash of `path`, a data file about to be read (before: a change while it is read is caught too)."""
    path = Path(path)
    if _read is not None and path not in _read:
        _read[path] = sha256(path)


def check() -> None:
    """UserError naming every recorded file that changed (or went) since it was read, and every params value."""
    if _read is None:  # outside a stage run nothing is recorded
        return
    changed = [f"{path} changed while {stage()} ran; run again"
               for path, digest in _read.items() if not path.is_file() or sha256(path) != digest]
    for path, values in _params.items():
        changed += _params_changed(path, values)
    if changed:
        raise UserError("\n".join(changed))


def _params_changed(path: Path, values: dict[str, object]) -> list[str]:
    """A line for each of `values` (dotted key -> value when loaded) that `path` no longer holds."""
    try:
        tree = params_file.read(path)
    except UserError as err:
        return [f"{path} changed while {stage()} ran and can no longer be read ({err}); run again"]
    return [f"{path} {key} changed while {stage()} ran (from {_shown(was)} to {_shown(now)}); its outputs would "
            "not match it; run again"
            for loaded, value in values.items()
            for key, was, now in _differences(loaded, value, params_file.value_at(tree, loaded))]


def _differences(key: str, was: object, now: object) -> list[tuple[str, object, object]]:
    """(dotted key, old, new) of each leaf that differs between two values of `key` (sections compared per key)."""
    if isinstance(was, dict) and isinstance(now, dict):
        return [found for name in dict.fromkeys([*was, *now])
                for found in _differences(f"{key}.{name}", was.get(name, params_file.MISSING),
                                          now.get(name, params_file.MISSING))]
    return [] if was == now and type(was) is type(now) else [(key, was, now)]


def _shown(value: object) -> str:
    return "absent" if value is params_file.MISSING else repr(value)
