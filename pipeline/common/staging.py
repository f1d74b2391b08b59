"""A stage's outputs replaced as one set: written into a staging folder, then swapped in.

    with outputs(paths.Q2_TRAIN_ARTIFACTS / name, paths.Q2_TRAIN_RESULTS / name, paths.Q2_TRAIN_PLOTS / name):
        io.write_json(paths.Q2_TRAIN_RESULTS / name / "result.json", summary)   # goes to the staging copy

Inside the block every write of pipeline.common.io to a path under one of the declared outputs (files or
folders) lands in `.staging/<id>/new/`. When the block ends without error, the old outputs are moved aside and the
new ones moved in (SIGINT and SIGTERM held back meanwhile), then the old ones are deleted; on any error or
interrupt the staging copy is deleted and the old outputs stay exactly as they were. dvc.yaml marks every output
`persist: true`, so DVC does not delete them before the stage runs either: a failed stage loses nothing.

A stage killed with SIGKILL leaves only `.staging/<id>` (git- and DVC-ignored); the next run of the same stage
finishes or discards it: a swap that had started is completed (all new), one that had not is dropped (all old).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from pipeline.common.errors import UserError

STAGING = Path(".staging")
_active: list[tuple[list[Path], Path]] = []  # (declared outputs, their staging "new" folder) of the open block


def staged(path: str | Path) -> Path:
    """Where a write to `path` goes: its staging copy inside an `outputs` block, `path` itself otherwise."""
    path = Path(path)
    for declared, new in _active:
        for out in declared:
            if path == out or out in path.parents:
                return new / path
    return path


def _swap(declared: list[Path], root: Path) -> None:
    """Move the old outputs to root/old, then root/new's into place.

    The marker root/swapping is written first: from then on a killed run is finished by `_recover`. A rename that
    fails while the old outputs are moved aside (a read-only or immutable folder) moves them back and is a UserError.
    """
    marker = root / "swapping"
    marker.write_text(json.dumps([str(out) for out in declared]))
    moved: list[Path] = []
    try:
        for out in declared:
            if out.exists():
                _move_aside(out, root)
                moved.append(out)
    except OSError as err:
        for out in reversed(moved):
            (root / "old" / out).rename(out)
        marker.unlink()
        raise UserError(f"{err.filename}: cannot be replaced ({err.strerror}); earlier outputs are unchanged") \
            from None
    _move_in(declared, root)


def _move_aside(out: Path, root: Path) -> None:
    (root / "old" / out).parent.mkdir(parents=True, exist_ok=True)
    out.rename(root / "old" / out)


def _move_in(declared: list[Path], root: Path) -> None:
    """Every staged output into place; one still holding its old version is moved aside first."""
    for out in declared:
        new = root / "new" / out
        if new.exists():
            if out.exists():
                _move_aside(out, root)
            out.parent.mkdir(parents=True, exist_ok=True)
            new.rename(out)


def _recover(declared: list[Path], root: Path) -> None:
    """Finish a swap a killed run had started (all new); otherwise drop its staging copy (all old)."""
    if (root / "swapping").exists():
        _move_in(declared, root)
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def outputs(*declared: str | Path) -> Iterator[None]:
    """Write the block's outputs (the files or folders `declared`) as one set; see the module doc."""
    outs = [Path(p) for p in declared]
    root = STAGING / hashlib.sha1("\n".join(sorted(map(str, outs))).encode()).hexdigest()[:12]
    _recover(outs, root)
    _active.append((outs, root / "new"))
    try:
        yield
        missing = [str(out) for out in outs if not (root / "new" / out).exists()]
        if missing:
            raise RuntimeError(f"the stage did not write its declared outputs {', '.join(missing)}")
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            _swap(outs, root)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        _active.pop()
        shutil.rmtree(root, ignore_errors=True)
