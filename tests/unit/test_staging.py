"""pipeline.common.staging.outputs: a stage's outputs (files and folders) replaced as one set, or not at all.

Every test runs in an empty temporary folder holding the old outputs of a stage: the file `a.txt` and the
folder `d/` (with `d/old.txt`).
"""

from __future__ import annotations

import errno
import json
import signal
import threading
from pathlib import Path

import pytest

from pipeline.common import errors, io, staging
from pipeline.common.errors import UserError
from pipeline.common.staging import STAGING, outputs, staged

OUTS = ("a.txt", "d")
HANG = 120  # seconds: a ceiling only a hang reaches


@pytest.fixture
def old(tmp_path, monkeypatch) -> dict[str, bytes]:
    """The old outputs, written in the current (temporary) folder; returns every file's bytes."""
    monkeypatch.chdir(tmp_path)
    Path("d").mkdir()
    Path("a.txt").write_text("old a")
    Path("d/old.txt").write_text("old d")
    return tree()


def tree() -> dict[str, bytes]:
    """Every file under the current folder but the staging folder, with its bytes."""
    return {str(p): p.read_bytes() for p in sorted(Path(".").rglob("*")) if p.is_file() and STAGING not in p.parents}


def nothing_staged() -> bool:
    return not STAGING.exists() or not any(STAGING.iterdir())


def write_new() -> None:
    io.write_text("a.txt", "new a")
    io.write_json("d/x.json", {"new": 1})


def staging_root() -> Path:
    """The staging folder of OUTS (`.staging/<id>`), as `staged` names it inside a block."""
    with pytest.raises(ValueError), outputs(*OUTS):
        root = staged(OUTS[0]).parents[1]
        raise ValueError
    return root


def test_the_set_is_swapped_in_only_when_the_block_ends(old):
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    with outputs(*OUTS):
        write_new()
        assert tree() == old  # nothing outside the staging folder changed yet
    assert tree() == {"a.txt": b"new a", "d/x.json": b'{\n  "new": 1\n}\n'}  # the folder replaced whole
    assert nothing_staged()
    assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask  # SIGINT / SIGTERM no longer held back


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_an_error_inside_the_block_leaves_the_old_outputs_byte_identical(old, error):
    with pytest.raises(error), outputs(*OUTS):
        write_new()
        raise error
    assert tree() == old and nothing_staged()


def test_a_declared_output_the_block_did_not_write_is_a_bug_of_the_stage(old):
    with pytest.raises(RuntimeError, match=r"did not write its declared outputs d$"), outputs(*OUTS):
        io.write_text("a.txt", "new a")
    assert tree() == old and nothing_staged()


def test_writes_outside_the_declared_outputs_go_straight_to_their_path(old):
    with outputs(*OUTS):
        write_new()
        io.write_text("logs/run.json", "{}")
        io.write_text("d2/x.txt", "beside d, not in it")
        assert Path("logs/run.json").read_text() == "{}" and Path("d2/x.txt").is_file()
    assert set(tree()) == {"a.txt", "d/x.json", "logs/run.json", "d2/x.txt"}


def killed_mid_swap(marker: str) -> Path:
    """The state a run killed mid-swap leaves (old outputs moved aside, a.txt moved in, d not), its marker holding
    `marker`; returns the staging folder."""
    root = staging_root()
    (root / "old/d").mkdir(parents=True)
    Path("d").rename(root / "old/d")
    Path("a.txt").write_text("killed run's a")
    (root / "new/d").mkdir(parents=True)
    (root / "new/d/k.txt").write_text("killed run's d")
    (root / "swapping").write_text(marker)
    return root


def test_a_swap_a_killed_run_had_started_is_finished_by_the_next_block(old):
    killed_mid_swap(json.dumps(list(OUTS)))
    with pytest.raises(ValueError), outputs(*OUTS):  # the next run fails: the recovered set stays
        raise ValueError
    assert tree() == {"a.txt": b"killed run's a", "d/k.txt": b"killed run's d"} and nothing_staged()


def test_a_swap_killed_while_moving_the_old_outputs_aside_ends_all_new(old):
    root = staging_root()
    (root / "new/d").mkdir(parents=True)
    (root / "new/a.txt").write_text("killed run's a")
    (root / "new/d/k.txt").write_text("killed run's d")
    (root / "swapping").write_text(json.dumps(list(OUTS)))  # the marker comes first ...
    (root / "old").mkdir()
    Path("a.txt").rename(root / "old/a.txt")  # ... then a.txt was moved aside, d not yet
    with pytest.raises(ValueError), outputs(*OUTS):
        raise ValueError
    assert tree() == {"a.txt": b"killed run's a", "d/k.txt": b"killed run's d"} and nothing_staged()


def test_a_run_killed_before_its_swap_began_keeps_the_old_outputs(old):
    root = staging_root()
    (root / "new").mkdir(parents=True)
    (root / "new/a.txt").write_text("killed run's a")  # staged, but no marker: the swap had not begun
    with pytest.raises(ValueError), outputs(*OUTS):
        raise ValueError
    assert tree() == old and nothing_staged()


def test_a_rename_that_fails_is_rolled_back_and_one_user_error(old, monkeypatch):
    rename = Path.rename

    def failing(self, target):
        if self == Path("d"):  # the second output, after a.txt was moved aside
            raise OSError(errno.EPERM, "Operation not permitted", str(self))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(UserError) as err, outputs(*OUTS):
        write_new()
    assert str(err.value) == "d: cannot be replaced (Operation not permitted); earlier outputs are unchanged"
    assert tree() == old and nothing_staged()



@pytest.fixture
def interrupting():
    """SIGINT and SIGTERM raise KeyboardInterrupt, as in a stage (pipeline.common.errors.run)."""
    previous = {signum: signal.signal(signum, errors._interrupt) for signum in errors.HELD}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", errors.HELD, ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_any_thread_during_the_swap_waits_until_the_new_set_is_in_place(old, interrupting, monkeypatch,
                                                                                     signum):
    """The system may deliver a process's signal to any of its threads (a BLAS thread, say): it still waits."""
    now, done = threading.Event(), threading.Event()

    def other_thread():  # raise_signal delivers the signal to this thread, and returns once its handler ran
        if now.wait(HANG):
            signal.raise_signal(signum)
            done.set()

    threading.Thread(target=other_thread, daemon=True).start()
    move_aside = staging._move_aside

    def signalled_midway(out, root):  # the first output is moved aside, then the signal comes
        move_aside(out, root)
        now.set()
        assert done.wait(HANG)

    monkeypatch.setattr(staging, "_move_aside", signalled_midway)
    with pytest.raises(KeyboardInterrupt), outputs(*OUTS):
        write_new()
    assert tree() == {"a.txt": b"new a", "d/x.json": b'{\n  "new": 1\n}\n'} and nothing_staged()
    assert staging.outcome() == "the new outputs are in place"


def test_a_swap_a_killed_run_had_started_is_finished_when_the_next_stage_run_starts(old, capsys):
    root = staging_root()
    (root / "old").mkdir(parents=True)
    Path("a.txt").rename(root / "old/a.txt")  # killed after moving a.txt aside: a.txt is missing
    (root / "new/d").mkdir(parents=True)
    (root / "new/a.txt").write_text("killed run's a")
    (root / "new/d/k.txt").write_text("killed run's d")
    (root / "swapping").write_text(json.dumps(list(OUTS)))
    staging.start()
    assert tree() == {"a.txt": b"killed run's a", "d/k.txt": b"killed run's d"} and nothing_staged()
    assert capsys.readouterr().err == ("note: finished an earlier run's unfinished output swap: a.txt, d "
                                       "replaced\n")
    assert staging.outcome() == "earlier outputs are unchanged"


def test_a_swap_cut_short_by_an_error_is_kept_for_the_next_run_and_says_so(old, monkeypatch):
    def full(self, target):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    with monkeypatch.context() as patch:
        patch.setattr(staging, "_move_in", lambda declared, root: full(root, None))
        with pytest.raises(OSError), outputs(*OUTS):
            write_new()
    assert staging.outcome() == "the output swap was cut short; the next stage run finishes it"
    assert "a.txt" not in tree() and not nothing_staged()  # the old outputs aside, the new ones kept
    staging.start()
    assert tree() == {"a.txt": b"new a", "d/x.json": b'{\n  "new": 1\n}\n'} and nothing_staged()


def test_a_write_that_fills_the_disk_names_the_file(old):
    with pytest.raises(OSError) as err, outputs(*OUTS), io.atomic_path("d/x.json"):
        with open("/dev/full", "w") as full:  # every write to /dev/full fails as on a full disk
            full.write("x")
    assert (err.value.errno, err.value.filename) == (errno.ENOSPC, "d/x.json")
    assert tree() == old and nothing_staged()


def test_the_marker_is_written_whole_or_not_at_all(old, monkeypatch):
    """Written beside, synced, renamed: a write cut short (a kill, a full disk) leaves no marker, never a cut one."""
    def full_disk(fd):  # where a full disk shows when the text was only buffered
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left on device"), outputs(*OUTS):
        write_new()
    assert tree() == old and not list(STAGING.glob("*/swapping*"))


@pytest.mark.parametrize("damage", ["", '["a.t'], ids=["empty", "cut"])
def test_an_unreadable_marker_is_read_again_from_dvc_lock_and_the_swap_finished(old, capsys, damage):
    root = killed_mid_swap(damage)
    Path("dvc.lock").write_text("schema: '2.0'\nstages:\n  other:\n    outs:\n    - path: z\n  train:\n    outs:\n"
                                "    - path: a.txt\n      md5: 1\n    - path: d\n      md5: 2\n")
    staging.start()
    lock = Path("dvc.lock").read_bytes()
    assert tree() == {"a.txt": b"killed run's a", "d/k.txt": b"killed run's d", "dvc.lock": lock}
    assert nothing_staged()
    found = "empty" if not damage else "cut or damaged ("
    notes = capsys.readouterr().err.splitlines()
    assert notes[0].startswith(f"note: {root}/swapping could not be read ({found}") and \
        notes[0].endswith("its outputs are those of train in dvc.lock"), notes
    assert notes[1] == "note: finished an earlier run's unfinished output swap: a.txt, d replaced"


def test_an_unreadable_marker_no_stage_explains_is_kept_aside_whole_and_the_run_goes_on(old, capsys):
    root = killed_mid_swap("")
    staging.start()  # no dvc.lock
    aside = STAGING / f"unreadable-{root.name}"
    assert not root.exists() and (aside / "old/d/old.txt").read_text() == "old d"  # the last copy of d is kept
    assert (aside / "new/d/k.txt").is_file()
    [note] = capsys.readouterr().err.splitlines()
    assert note.startswith(f"note: {root}/swapping could not be read (empty) and no stage in dvc.lock has its outputs")
    assert f"kept in {aside}; run `dvc status`" in note
    with outputs(*OUTS):  # the next run of the stage is not wedged
        write_new()
    assert Path("a.txt").read_text() == "new a"
