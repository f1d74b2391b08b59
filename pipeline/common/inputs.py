"""The data files a stage read, kept to what they were when it read them.

DVC hashes a stage's dependencies after the stage ends, so a data file replaced while a stage ran would be recorded
in dvc.lock as what produced outputs that came from the old file. A stage run (pipeline.common.errors.run) therefore
records the SHA-256 of each data file as it opens it (pipeline.common.h5.open_file), and just before its outputs
are swapped in (pipeline.common.staging) checks that every file still has it: if not, it stops with one line per
file and publishes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.common.errors import UserError, stage

_read: dict[Path, str] | None = None  # path -> hash when first read; None outside a stage run


def sha256(path: str | Path) -> str:
    """The file's SHA-256, as hex (what `sha256sum` prints)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def start() -> None:
    """Record the data files read from now on (a stage run begins)."""
    global _read
    _read = {}


def record(path: str | Path) -> None:
    """Note the hash of `path`, a data file about to be read (before: a change while it is read is caught too)."""
    path = Path(path)
    if _read is not None and path not in _read:
        _read[path] = sha256(path)


def check() -> None:
    """UserError naming every recorded file that changed (or went) since it was read."""
    changed = [path for path, digest in (_read or {}).items() if not path.is_file() or sha256(path) != digest]
    if changed:
        raise UserError("\n".join(f"{path} changed while {stage()} ran; run again" for path in changed))
