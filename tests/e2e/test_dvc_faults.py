"""Faults under real `dvc repro` / `dvc exp run`: one clear line, a non-zero exit, and nothing lost.

A tiny copy of the repository is run once and committed; each test then breaks one thing, runs DVC the way a
user would, and checks with `git status` that no output was deleted, changed or left half-written.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
import yaml

from pipeline.common.parallel import jobs
from tests.conftest import HANG, INJECT, Watched, children, dvc_env, set_key
from tests.e2e.test_pipeline_e2e import TINY, copy_repository, make_tiny

pytestmark = pytest.mark.slow


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=dvc_env(), capture_output=True,
                          text=True, timeout=HANG)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def changed_files(repo: Path) -> list[str]:
    """`git status --porcelain` entries other than params.yaml (which the tests edit themselves)."""
    return [line for line in git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
            if not line.endswith(" params.yaml")]


def set_params(repo: Path, changes: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for dotted, value in changes.items():
        set_key(params, dotted, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """The tiny pipeline, run and committed, so that `git status` shows whatever a fault changes."""
    repo = copy_repository(tmp_path_factory.mktemp("faults") / "repo")
    for generated in ("dvc.lock", "metrics", "plots", "results", "artifacts", "REPORT.md"):
        path = repo / generated
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    make_tiny(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = dvc(repo, "repro")
    assert done.returncode == 0, done.stdout + done.stderr
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "tiny pipeline")
    return repo


@pytest.fixture
def clean(repo):
    """Each test starts from the committed state and restores it afterwards."""
    yield repo
    git(repo, "checkout", "-q", "--", "params.yaml")
    assert changed_files(repo) == [], "a fault changed or left files"


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error: ")]


def test_a_bad_parameter_under_dvc_repro_loses_nothing(clean):
    set_params(clean, {"q1.rho": 1.5})
    done = dvc(clean, "repro", "q1_train")
    assert done.returncode != 0
    assert _error_lines(done) == ["error: params.yaml q1.rho = 1.5: must be in (0, 1)"], done.stderr
    assert changed_files(clean) == []


def test_a_bad_parameter_under_dvc_exp_run_loses_nothing(clean):
    done = dvc(clean, "exp", "run", "-S", "q1.rho=1.5")
    assert done.returncode != 0
    assert "error: params.yaml q1.rho = 1.5: must be in (0, 1)" in done.stdout + done.stderr
    assert changed_files(clean) == []


def test_a_missing_data_file_loses_nothing(clean):
    set_params(clean, {"data.data1": "data/raw/missing.h5"})
    done = dvc(clean, "repro")
    assert done.returncode != 0 and "data/raw/missing.h5" in done.stdout + done.stderr
    assert changed_files(clean) == []


def test_nan_in_the_data_loses_nothing(clean):
    bad = clean / "data" / "raw" / "bad3.h5"
    shutil.copy(clean / "data" / "raw" / "data3.h5", bad)
    with h5py.File(bad, "r+") as h5:
        h5["trX"][0, 0, 0] = float("nan")
    try:
        set_params(clean, {"data.data3": "data/raw/bad3.h5"})
        done = dvc(clean, "repro", "q3_train@gru")
        assert done.returncode != 0
        assert _error_lines(done) == ["error: data/raw/bad3.h5: key 'trX' contains 1 NaN or inf values"]
        assert changed_files(clean) == ["?? data/raw/bad3.h5"]
    finally:
        bad.unlink()


def test_an_immutable_output_folder_loses_nothing(clean):
    folder = clean / "results" / "q1" / "search"
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        done = dvc(clean, "repro", "--force", "q1_search")
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert done.returncode != 0
    assert _error_lines(done) == ["error: results/q1/search: cannot be replaced (Operation not permitted); "
                                  "earlier outputs are unchanged"], done.stderr
    assert changed_files(clean) == []


ENDLESS = {"q2.sizes.d32_p256.epochs": 100000, "q2.patience": 100000}  # trains until it is stopped
INTERRUPTED = "interrupted: earlier outputs are unchanged; run `dvc repro` to finish"
KILLED = "its worker process was killed by SIGKILL (kill -9, or the machine ran out of memory)"


def _training(repo: Path) -> Watched:
    """`dvc repro q2_train@d32_p256` of ENDLESS started, once each seed's worker is training."""
    set_params(repo, ENDLESS)
    job = Watched([sys.executable, "-m", "dvc", "repro", "q2_train@d32_p256"], repo, dvc_env())
    job.wait_for(*(f"seed {seed} epoch 2/" for seed in TINY["q2.seeds"]))
    return job


def _runs(args: list[str], module: str) -> bool:
    """The command line `args` (of /proc/<pid>/cmdline) is `python -m module ...`."""
    return "-m" in args[:-1] and args[args.index("-m") + 1] == module


def _stage_pid(dvc_pid: int, module: str) -> int:
    """The stage process DVC started (through its shell or not): the first descendant running `python -m module`
    (its workers, forked, run the same command one level further down)."""
    level = [dvc_pid]
    while level:
        for pid in level:
            if _runs(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0"), module):
                return pid
        level = [child for pid in level for child in children(pid)]
    raise AssertionError(f"no process runs {module}")


def _exited(pid: int) -> bool:
    """`pid` has exited (a zombie its parent has not reaped yet included)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _wait_exited(*pids: int) -> None:
    """Until each of `pids` has exited, within HANG in all (a process closes its output before it has exited)."""
    deadline = time.monotonic() + HANG
    while not all(map(_exited, pids)):
        assert time.monotonic() < deadline, f"{[pid for pid in pids if not _exited(pid)]} still run after {HANG} s"
        time.sleep(0.1)


def _usable_and_up_to_date(repo: Path) -> None:
    git(repo, "checkout", "-q", "--", "params.yaml")
    again = dvc(repo, "status")  # DVC itself is usable again (no stale lock)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


@pytest.mark.faults
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm",
                                                                                         "kill-9"])
def test_interrupting_dvc_repro_loses_nothing(clean, signum):
    """Ctrl-C in a terminal signals the whole foreground process group: DVC, the stage and its workers."""
    with _training(clean) as job:
        os.killpg(job.process.pid, signum)
        rest = job.rest()  # once DVC, the stage and every worker have exited
    assert job.process.returncode != 0 and "Traceback" not in rest, rest
    if signum != signal.SIGKILL:
        assert rest.count("interrupted:") == 1 and INTERRUPTED in rest, rest
    assert changed_files(clean) == [], "an output was changed, deleted or half-written"
    _usable_and_up_to_date(clean)


@pytest.mark.faults
def test_a_worker_killed_with_kill_9_under_dvc_repro_is_one_line(clean):
    with _training(clean) as job:
        stage = _stage_pid(job.process.pid, "pipeline.q2.train")
        os.kill(children(stage)[0], signal.SIGKILL)
        rest = job.rest()
    assert job.process.returncode != 0 and "Traceback" not in rest, rest
    lines = [line for line in rest.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and re.fullmatch(rf"error: q2_train@d32_p256 seed [01]: {re.escape(KILLED)}; earlier "
                                            r"outputs are unchanged", lines[0]), rest
    assert changed_files(clean) == []
    _usable_and_up_to_date(clean)


@pytest.mark.faults
def test_the_workers_of_a_stage_killed_under_dvc_repro_exit_quietly(clean):
    with _training(clean) as job:
        os.kill(_stage_pid(job.process.pid, "pipeline.q2.train"), signal.SIGKILL)
        rest = job.rest()  # once the workers, which hold the output too, have exited
    assert job.process.returncode != 0 and "Traceback" not in rest and "BrokenPipe" not in rest, rest
    assert changed_files(clean) == []
    _usable_and_up_to_date(clean)


def _fault_env(fault: str) -> dict[str, str]:
    return dict(dvc_env(), PYTHONPATH=str(INJECT), EEE443_FAULT=fault)


@pytest.mark.faults
def test_a_stage_killed_during_its_swap_shows_in_dvc_status_and_the_next_repro_finishes_it(clean):
    killed = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "q1_preprocess"], cwd=clean,
                            env=_fault_env("kill-in-swap"), capture_output=True, text=True, timeout=HANG)
    assert killed.returncode != 0
    status = dvc(clean, "status", "q1_preprocess")
    assert "q1_preprocess:" in status.stdout and "deleted:" in status.stdout, status.stdout
    again = dvc(clean, "repro", "q1_preprocess")
    assert again.returncode == 0, again.stdout + again.stderr
    assert ("note: finished an earlier run's unfinished output swap: plots/q1/preprocess, results/q1/preprocess "
            "replaced") in again.stdout + again.stderr
    assert changed_files(clean) == []
    _usable_and_up_to_date(clean)


@pytest.mark.faults
def test_sigterm_during_the_swap_under_dvc_repro_says_the_new_outputs_are_in_place(clean):
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "q1_preprocess"], cwd=clean,
                          env=_fault_env("signal-in-swap"), capture_output=True, text=True, timeout=HANG)
    assert done.returncode != 0
    assert "interrupted: the new outputs are in place; run `dvc repro` to finish" in done.stderr, done.stderr
    assert changed_files(clean) == []  # the same parameters: the new outputs are the old ones, byte for byte
    assert not any((clean / ".staging").iterdir())
    _usable_and_up_to_date(clean)


@pytest.mark.faults
def test_data_replaced_while_dvc_repro_ran_is_not_recorded(clean):
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "q3_train@gru"], cwd=clean,
                          env=_fault_env("change:data/raw/data3.h5"), capture_output=True, text=True, timeout=HANG)
    try:
        assert done.returncode != 0
        assert _error_lines(done) == ["error: data/raw/data3.h5 changed while q3_train@gru ran; run again"]
        assert changed_files(clean) == [" M data/raw/data3.h5"]  # no output, and dvc.lock as it was
        status = dvc(clean, "status", "q3_train@gru")
        assert "modified:" in status.stdout and "data/raw/data3.h5" in status.stdout, status.stdout
    finally:
        git(clean, "checkout", "-q", "--", "data/raw/data3.h5")


@pytest.mark.faults
def test_a_full_disk_under_dvc_repro_names_the_file(clean):
    staging_folder = clean / ".staging"
    staging_folder.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(staging_folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        done = dvc(clean, "repro", "--force", "q1_preprocess")
    finally:
        subprocess.run(["umount", str(staging_folder)], check=True)
    assert done.returncode != 0
    lines = _error_lines(done)
    assert len(lines) == 1 and lines[0].endswith(": No space left on device; earlier outputs are unchanged"), lines
    assert lines[0].startswith(("error: plots/q1/preprocess/", "error: results/q1/preprocess/")), lines
    assert changed_files(clean) == []


def _fails_with_one_line(clean, params: dict, stage: str, pattern: str) -> None:
    """`dvc repro <stage>` with `params` set fails with one error line matching `pattern` and changes no file."""
    set_params(clean, params)
    done = dvc(clean, "repro", stage)
    assert done.returncode != 0
    lines = _error_lines(done)
    assert len(lines) == 1 and re.fullmatch(pattern, lines[0]), lines
    assert changed_files(clean) == []


def test_a_batch_larger_than_the_training_set_under_dvc_repro_names_the_key(clean):
    _fails_with_one_line(clean, {"q3.batch_size": 10000000}, "q3_train@rnn",
                         r"error: params.yaml q3.batch_size = 10000000: larger than the training set \(\d+ windows\); "
                         r"lower it")


def test_a_divergence_from_weight_decay_under_dvc_repro_names_weight_decay(clean):
    _fails_with_one_line(clean, {"q2.sizes.d8_p64.weight_decay": 1000}, "q2_train@d8_p64",
                         r"error: q2_train d8_p64 seed [01]: training diverged at epoch \d+ \(loss \S+\); lower "
                         r"params.yaml q2.sizes.d8_p64.lr \(now \S+\), q2.sizes.d8_p64.weight_decay \(now 1000\), "
                         r"q2.momentum \(now \S+\) or q2.init_std \(now \S+\)")


def _stage_stopped_with_its_dvc(job: Watched) -> str:
    """SIGTERM to the dvc process alone (a CI cancel, a closed terminal), not its group; the output to its end."""
    stage = _stage_pid(job.process.pid, "pipeline.q2.train")
    job.process.send_signal(signal.SIGTERM)
    rest = job.rest()  # once dvc, the stage and its workers have closed the output
    _wait_exited(stage)
    return rest


@pytest.mark.faults
@pytest.mark.parametrize("command", [["repro"], ["exp", "run"]], ids=["dvc-repro", "dvc-exp-run"])
def test_sigterm_to_dvc_alone_stops_its_stage_and_publishes_nothing(clean, command):
    set_params(clean, ENDLESS)
    with Watched([sys.executable, "-m", "dvc", *command, "q2_train@d32_p256"], clean, dvc_env()) as job:
        job.wait_for(*(f"seed {seed} epoch 2/" for seed in TINY["q2.seeds"]))
        rest = _stage_stopped_with_its_dvc(job)
    assert "Traceback" not in rest, rest
    assert "note: q2_train@d32_p256: the process that started it has exited; stopping" in rest, rest
    assert INTERRUPTED in rest, rest
    assert changed_files(clean) == [], "the stage published outputs dvc.lock does not record"
    _usable_and_up_to_date(clean)


def _processes_in(folder: Path) -> dict[int, list[str]]:
    """The live processes working in `folder` or below it (by /proc/<pid>/cwd), with their command lines."""
    folder, found = folder.resolve(), {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended meanwhile, or a zombie
            continue
        if cwd == folder or folder in cwd.parents:
            found[int(entry.name)] = args
    return found


def _queued_stage(repo: Path, module: str, workers: int) -> tuple[int, list[int]]:
    """The stage process running `python -m module` for an experiment of `repo`'s queue (in DVC's temporary
    workspace below `repo`, under `dvc exp exec-run` under the queue's worker) and its worker processes, once it has
    started `workers` of them; within HANG."""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        running = {pid for pid, args in _processes_in(repo).items() if _runs(args, module)}
        forked = {child: pid for pid in running for child in children(pid) if child in running}
        stages = running - forked.keys()
        if len(stages) == 1 and len(forked) == workers:
            return stages.pop(), sorted(forked)
        time.sleep(0.2)
    raise AssertionError(f"still no {module} with {workers} workers under {repo} after {HANG} s: a hang")


def _dvc_detached(repo: Path, *args: str) -> None:
    """A dvc command that leaves a daemon behind (the queue's worker), which would hold captured output open."""
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=dvc_env(), stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=HANG, check=True)


@pytest.mark.faults
def test_a_queued_experiment_killed_with_dvc_queue_kill_force_stops_its_stage_and_publishes_nothing(clean):
    """`dvc queue kill --force` sends SIGKILL to the experiment's `dvc exp exec-run` alone, never to its stage."""
    name = "killed-in-queue"
    try:
        queued = dvc(clean, "exp", "run", "--queue", "-n", name,
                     *(f"-S{key}={value}" for key, value in ENDLESS.items()), "q2_train@d32_p256")
        assert queued.returncode == 0, queued.stdout + queued.stderr  # to run from the committed HEAD, ENDLESS set
        _dvc_detached(clean, "queue", "start")
        stage, workers = _queued_stage(clean, "pipeline.q2.train", jobs(len(TINY["q2.seeds"])))
        killed = dvc(clean, "queue", "kill", "--force", name)
        assert killed.returncode == 0, killed.stdout + killed.stderr
        _wait_exited(stage, *workers)
        logs = dvc(clean, "queue", "logs", name)
        status = dvc(clean, "queue", "status")
        refs = git(clean, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            _dvc_detached(clean, "queue", "stop", "--kill")
        for pid in _processes_in(clean):  # whatever of the queue still runs (by working directory, not stale pids)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        dvc(clean, "queue", "remove", "--all")
    assert "Traceback" not in logs.stdout, logs.stdout
    assert "note: q2_train@d32_p256: the process that started it has exited; stopping" in logs.stdout, logs.stdout
    assert INTERRUPTED in logs.stdout, logs.stdout
    [row] = [line for line in status.stdout.splitlines() if f" {name} " in line]
    assert "Success" not in row, status.stdout
    assert not [ref for ref in refs if ref.endswith(f"/{name}")], refs  # no experiment recorded (exps/<base>/<name>)
    assert changed_files(clean) == []
    _usable_and_up_to_date(clean)


@pytest.mark.faults
def test_params_changed_while_dvc_repro_ran_publish_nothing(clean):
    """As when a second `dvc exp run -S` rewrites params.yaml in the same workspace while the first trains."""
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "q3_train@gru"], cwd=clean,
                          env=_fault_env("set:q3.models.gru.epochs=99"), capture_output=True, text=True, timeout=HANG)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    [line] = _error_lines(done)
    assert re.fullmatch(r"error: params.yaml q3.models.gru.epochs changed while q3_train@gru ran \(from \d+ to 99\); "
                        r"its outputs would not match it; run again", line), line
    assert changed_files(clean) == []  # no output, and dvc.lock as it was
    status = dvc(clean, "status", "q3_train@gru")
    assert "modified:" in status.stdout and "q3.models.gru" in status.stdout, status.stdout  # DVC sees the change
    _usable_and_up_to_date(clean)


@pytest.mark.faults
@pytest.mark.parametrize("damage", ["", '["plots/q1/prepro'], ids=["empty", "cut"])
def test_a_damaged_swap_marker_no_longer_wedges_dvc_repro(clean, damage):
    killed = subprocess.run([sys.executable, "-m", "dvc", "repro", "--force", "q1_preprocess"], cwd=clean,
                            env=_fault_env("kill-in-swap"), capture_output=True, text=True, timeout=HANG)
    assert killed.returncode != 0
    [marker] = (clean / ".staging").glob("*/swapping")
    marker.write_text(damage)  # what a kill in the write or a full disk once left
    again = dvc(clean, "repro", "q1_preprocess")
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stdout + again.stderr
    notes = [line for line in (again.stdout + again.stderr).splitlines() if line.startswith("note: ")]
    assert notes[0].startswith(f"note: .staging/{marker.parent.name}/swapping could not be read ("), notes
    assert notes[0].endswith("its outputs are those of q1_preprocess in dvc.lock"), notes
    assert notes[1] == ("note: finished an earlier run's unfinished output swap: plots/q1/preprocess, "
                        "results/q1/preprocess replaced"), notes
    assert changed_files(clean) == []
    _usable_and_up_to_date(clean)


def test_a_params_key_written_twice_is_refused_by_the_stage_as_by_dvc(clean):
    params = clean / "params.yaml"
    text = params.read_text()
    params.write_text(text.replace("\nq3:\n", "\nq3:\n  seeds: [7]\n", 1))
    lines = params.read_text().splitlines()
    first = lines.index("q3:") + 2  # 1-based, the line after q3:
    second = next(n for n, line in enumerate(lines, 1) if n > first and line.startswith("  seeds:"))
    assert all(line.startswith((" ", "#")) or not line for line in lines[first:second - 1])  # both in q3
    by_dvc = dvc(clean, "repro", "q3_train@gru")
    assert by_dvc.returncode != 0 and "YAML file structure is corrupted" in by_dvc.stdout + by_dvc.stderr
    direct = subprocess.run([sys.executable, "-m", "pipeline.q3.train", "gru"], cwd=clean, env=dvc_env(),
                            capture_output=True, text=True, timeout=HANG)
    assert direct.returncode == 2 and direct.stderr.splitlines() == [
        f"error: params.yaml q3.seeds: written twice (lines {first} and {second}); DVC refuses such a file: keep one"]
    assert changed_files(clean) == []

