"""A stage's outputs replaced as one set: written into a staging folder, then swapped in.

    with outputs(paths.Q2_TRAIN_ARTIFACTS / name, paths.Q2_TRAIN_RESULTS / name, paths.Q2_TRAIN_PLOTS / name):
        io.write_json(paths.Q2_TRAIN_RESULTS / name / "result.json", summary)   # goes to the staging copy

Inside the block every write of pipeline.common.io to a path under one of the declared outputs (files or
folders) lands in `.staging/<id>/new/`. When the block ends without error, the data files the stage read are
checked (pipeline.common.inputs), then the swap: the marker `.staging/<id>/swapping` is written, the old outputs
are moved to `.staging/<id>/old/` and the new ones moved in, the marker is deleted (SIGINT and SIGTERM held back
meanwhile, errors.signals_held), and the old ones are deleted. On any error or interrupt before the swap the staging
copy is deleted and the old outputs stay exactly as they were. dvc.yaml marks every output `persist: true`, so DVC
does not delete them before the stage runs either: a failed stage loses nothing.

A stage killed with SIGKILL before its swap leaves only `.staging/<id>` (git- and DVC-ignored), which the next run
of the same stage drops (all old). One killed during its swap leaves the marker and some outputs missing (`dvc
status` lists them as deleted): the next run of any stage finishes that swap as it starts (all new) and says so.
The marker is written whole (beside it, synced, renamed into place), so a kill or a full disk cannot leave it cut;
one that still cannot be read (a damaged disk, an edit) is matched by its folder's id with the stage of dvc.lock
that declares those outputs, and the swap is finished the same way; one that matches no stage is moved aside whole,
nothing deleted, and the run goes on.
Swaps and their completion lock the folder .staging: a stage starting beside another one's swap waits for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

from pipeline.common import inputs
from pipeline.common.errors import UserError, naming, signals_held

STAGING = Path(".staging")
MARKER = "swapping"
DVC_LOCK = Path("dvc.lock")  # where an unreadable marker's outputs are found again, by the id of their set
UNCHANGED = "earlier outputs are unchanged"
_active: list[tuple[list[Path], Path]] = []  # (declared outputs, their staging "new" folder) of the open block
_outcome = UNCHANGED  # what became of this process's outputs, for its last message (`outcome`)


def staged(path: str | Path) -> Path:
    """Where a write to `path` goes: its staging copy inside an `outputs` block, `path` itself otherwise."""
    path = Path(path)
    for declared, new in _active:
        for out in declared:
            if path == out or out in path.parents:
                return new / path
    return path


def outcome() -> str:
    """What became of this stage run's outputs so far: unchanged, the new set in place, or a swap cut short."""
    return _outcome


def start() -> None:
    """A stage run begins: its outputs are unchanged so far; a swap an earlier run left unfinished is finished first."""
    global _outcome
    _outcome = UNCHANGED
    _finish_left_swaps()


def _finish_left_swaps() -> None:
    """Finish every swap an earlier run left unfinished, killed or cut short by an error (its marker is there): all
    new, and say so."""
    if not STAGING.is_dir():
        return
    with _locked():
        for marker in sorted(STAGING.glob(f"*/{MARKER}")):
            declared = _declared(marker)
            if declared is None:
                continue
            _move_in(declared, marker.parent)
            shutil.rmtree(marker.parent, ignore_errors=True)
            print(f"note: finished an earlier run's unfinished output swap: {', '.join(map(str, declared))} "
                  "replaced", file=sys.stderr)


def _declared(marker: Path) -> list[Path] | None:
    """The outputs the swap of `marker` replaces; None (its folder moved aside, said in a note) when neither the
    marker nor dvc.lock tells them."""
    try:
        declared = json.loads(marker.read_text())
        if isinstance(declared, list) and declared and all(isinstance(out, str) for out in declared):
            return [Path(out) for out in declared]
        found = f"not a list of outputs: {marker.read_text()[:40]!r}"
    except (OSError, UnicodeDecodeError, ValueError) as err:
        found = "empty" if marker.is_file() and not marker.stat().st_size else f"cut or damaged ({err})"
    stage, outs = _stage_with_id(marker.parent.name)
    if outs:
        print(f"note: {marker} could not be read ({found}); its outputs are those of {stage} in {DVC_LOCK}",
              file=sys.stderr)
        return outs
    aside = STAGING / f"unreadable-{marker.parent.name}"
    shutil.rmtree(aside, ignore_errors=True)
    marker.parent.rename(aside)
    print(f"note: {marker} could not be read ({found}) and no stage in {DVC_LOCK} has its outputs; its old and new "
          f"copies are kept in {aside}; run `dvc status` to see what is missing and `dvc repro` to rebuild it",
          file=sys.stderr)
    return None


def _stage_with_id(root_id: str) -> tuple[str, list[Path]]:
    """The dvc.lock stage whose outputs' staging folder is `root_id`, and those outputs ("", [] when none)."""
    try:
        stages = yaml.safe_load(DVC_LOCK.read_text())["stages"]
        for name, stage in stages.items():
            outs = [Path(out["path"]) for out in stage.get("outs", [])]
            if outs and _root(outs).name == root_id:
                return name, outs
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        pass
    return "", []


def _root(outs: list[Path]) -> Path:
    """The staging folder of the output set `outs`: named by a hash of their sorted paths."""
    return STAGING / hashlib.sha1("\n".join(sorted(map(str, outs))).encode()).hexdigest()[:12]


def _write_whole(path: Path, text: str) -> None:
    """`path` holds `text` or stays as it was, whatever stops the write: written beside it, synced, renamed."""
    part = path.with_name(path.name + ".part")
    with open(part, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    part.rename(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """The lock of swaps in this project, on the folder .staging (released by the system when its holder dies)."""
    folder = os.open(STAGING, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)


def _swap(declared: list[Path], root: Path) -> None:
    """Move the old outputs to root/old, then root/new's into place; the marker root/swapping lasts as long.

    A rename that fails while the old outputs are moved aside (a read-only or immutable folder) moves them back and
    is a UserError. Until the marker is gone the swap is unfinished: `start` of the next run finishes it.
    """
    global _outcome
    marker = root / MARKER
    with naming(marker):
        _write_whole(marker, json.dumps([str(out) for out in declared]))
    _outcome = "the output swap was cut short; the next stage run finishes it"
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
        _outcome = UNCHANGED
        raise UserError(f"{err.filename}: cannot be replaced ({err.strerror}); {UNCHANGED}") from None
    _move_in(declared, root)
    marker.unlink()
    _outcome = "the new outputs are in place"


def _move_aside(out: Path, root: Path) -> None:
    (root / "old" / out).parent.mkdir(parents=True, exist_ok=True)
    out.rename(root / "old" / out)


def _move_in(declared: list[Path], root: Path) -> None:
    """Every staged output into place; one still holding its old version is moved aside first. An output with
    neither a new copy nor a version in place gets its old copy back: the last copy of an output is never lost."""
    for out in declared:
        new, old = root / "new" / out, root / "old" / out
        if not new.exists() and not out.exists() and old.exists():
            new = old
        if new.exists():
            if out.exists():
                _move_aside(out, root)
            out.parent.mkdir(parents=True, exist_ok=True)
            new.rename(out)


@contextlib.contextmanager
def outputs(*declared: str | Path) -> Iterator[None]:
    """Write the block's outputs (the files or folders `declared`) as one set; see the module doc."""
    outs = [Path(p) for p in declared]
    root = _root(outs)
    _finish_left_swaps()
    shutil.rmtree(root, ignore_errors=True)  # what a run of this stage killed before its swap left
    _active.append((outs, root / "new"))
    try:
        yield
        missing = [str(out) for out in outs if not (root / "new" / out).exists()]
        if missing:
            raise RuntimeError(f"the stage did not write its declared outputs {', '.join(missing)}")
        inputs.check()
        with signals_held(), _locked():
            _swap(outs, root)
    finally:
        _active.pop()
        if not (root / MARKER).exists():  # an unfinished swap stays for the next run to finish
            shutil.rmtree(root, ignore_errors=True)
