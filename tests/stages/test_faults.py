"""Faults of a stage run directly (`python -m ...`): its seed workers, its output swap, its data files, its messages.

Each test waits for events (a line, the end of the output once every process holding it has exited), never for a
time, so that it holds on a machine whose every core is busy (`python -m tools.busy pytest -m faults`).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.common import parallel, paths
from pipeline.q1 import preprocess
from pipeline.q1 import train as q1_train
from pipeline.q2 import train as q2_train
from pipeline.q3 import train as q3_train
from pipeline.q3.data import load_activities
from pipeline.q3.evaluation import purpose_rngs, train_trials, validation_split
from tests.conftest import HANG, Project, Watched, children, run_stage, stage_env

pytestmark = [pytest.mark.slow, pytest.mark.faults]
NET = "d4_p8"
SEEDS = (0, 1)
KILLED = "was killed by SIGKILL (kill -9, or the machine ran out of memory); earlier outputs are unchanged"
INTERRUPTED = "interrupted: earlier outputs are unchanged; run `dvc repro` to finish"
workers = pytest.mark.skipif(parallel.jobs(len(SEEDS)) < len(SEEDS), reason="one core: the seeds train in-process")


def _endless(project: Project) -> Project:
    """Q2 training of NET that goes on until it is stopped, on SEEDS side by side."""
    return project.set("q2.sizes.d4_p8.epochs", 100000).set("q2.patience", 100000).set("q2.seeds", list(SEEDS))


def _training(project: Project) -> Watched:
    """q2_train of NET started, once each seed's worker is training."""
    job = Watched([sys.executable, "-m", "pipeline.q2.train", NET], project.root, stage_env())
    job.wait_for(*(f"seed {seed} epoch 1/" for seed in SEEDS))
    return job


def _error_lines(output: str) -> list[str]:
    assert "Traceback" not in output, output
    return [line for line in output.splitlines() if line.startswith("error: ")]


@workers
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("group", [False, True], ids=["stage", "group"])
def test_an_interrupt_stops_every_worker_and_exits_130_with_one_line(tmp_path, signum, group):
    """Ctrl-C in a terminal signals the whole process group (the stage and its workers); `kill` the stage alone."""
    with _training(_endless(Project(tmp_path / "p"))) as job:
        os.killpg(job.process.pid, signum) if group else job.process.send_signal(signum)
        rest = job.rest()  # returns once no worker holds the output any more: none is left running
    assert job.process.returncode == 130, rest
    assert "Traceback" not in rest and rest.count("interrupted:") == 1 and rest.rstrip().endswith(INTERRUPTED), rest


@pytest.mark.parametrize("starter", ["python", "shell"])
def test_a_stage_whose_starter_exits_stops_with_its_workers_and_publishes_nothing(tmp_path, starter):
    """dvc killed alone (a CI cancel, a closed terminal): the stage it started, and a shell between them, are
    orphaned; the stage stops within seconds instead of training on and swapping in outputs dvc.lock never records."""
    project = _endless(Project(tmp_path / "p"))
    stage = [sys.executable, "-m", "pipeline.q2.train", NET]
    if starter == "shell":  # dvc runs `$SHELL -c <cmd>`: a shell that does not exec the command stays between
        stage = ["bash", "-c", f"{' '.join(stage)}; true"]
    args = [sys.executable, "-c", "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()", *stage]
    with Watched(args, project.root, stage_env()) as job:
        job.wait_for(*(f"seed {seed} epoch 1/" for seed in SEEDS))
        job.process.kill()  # the starter alone; a shell between it and the stage lives on
        rest = job.rest()  # once the stage and its workers are gone
    assert "Traceback" not in rest, rest
    assert f"note: pipeline.q2.train {NET}: the process that started it has exited; stopping" in rest, rest
    assert rest.rstrip().endswith(INTERRUPTED), rest
    assert not (project.root / "results").exists()


@workers
def test_a_worker_killed_with_kill_9_stops_the_stage_with_one_line_naming_its_seed(tmp_path):
    project = _endless(Project(tmp_path / "p"))
    with _training(project) as job:
        os.kill(children(job.process.pid)[0], signal.SIGKILL)
        rest = job.rest()
    assert job.process.returncode == 2, rest
    assert len(_error_lines(rest)) == 1 and re.fullmatch(rf"error: pipeline\.q2\.train {NET} seed [01]: its worker "
                                                         rf"process {re.escape(KILLED)}", _error_lines(rest)[0]), rest
    assert not (project.root / "results").exists()


@workers
def test_workers_exit_quietly_when_the_stage_is_killed(tmp_path):
    with _training(_endless(Project(tmp_path / "p"))) as job:
        job.process.kill()
        rest = job.rest()  # once no worker holds the output any more
    assert "Traceback" not in rest and "Error" not in rest, rest


def _outputs(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for folder in ("results", "plots") if (root / folder).exists()
            for p in sorted((root / folder).rglob("*")) if p.is_file()}


def test_sigterm_to_another_thread_during_the_swap_ends_with_the_new_outputs_and_says_so(tmp_path):
    project = Project(tmp_path / "p")
    assert run_stage("pipeline.q1.preprocess", cwd=project.root).returncode == 0
    project.set("q1.preprocess.sample_size", 4)  # new outputs differ from the old
    proc = run_stage("pipeline.q1.preprocess", cwd=project.root, fault="signal-in-swap")
    assert proc.returncode == 130 and proc.stderr.splitlines() == [
        "interrupted: the new outputs are in place; run `dvc repro` to finish"], proc.stderr
    new = _outputs(project.root)
    assert run_stage("pipeline.q1.preprocess", cwd=project.root).returncode == 0
    assert _outputs(project.root) == new and not any((project.root / ".staging").iterdir())


def test_a_stage_killed_during_its_swap_is_finished_by_the_next_run_which_says_so(tmp_path):
    project = Project(tmp_path / "p")
    assert run_stage("pipeline.q1.preprocess", cwd=project.root).returncode == 0
    project.set("q1.preprocess.sample_size", 4)
    killed = run_stage("pipeline.q1.preprocess", cwd=project.root, fault="kill-in-swap")
    assert killed.returncode == -signal.SIGKILL
    assert not (project.root / paths.Q1_PREPROCESS_PLOTS).exists()  # the first output was moved aside: missing
    low, high = project.params["q1"]["preprocess"]["low"], project.params["q1"]["preprocess"]["high"]
    project.set("q1.preprocess.low", 2.0)  # the next run fails on a bad parameter, after finishing the swap
    proc = run_stage("pipeline.q1.preprocess", cwd=project.root)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"note: finished an earlier run's unfinished output swap: {paths.Q1_PREPROCESS_PLOTS}, "
        f"{paths.Q1_PREPROCESS_RESULTS} replaced",
        f"error: params.yaml q1.preprocess.low = 2.0 must be < q1.preprocess.high = {high}"], proc.stderr
    project.set("q1.preprocess.low", low)
    finished = _outputs(project.root)
    assert run_stage("pipeline.q1.preprocess", cwd=project.root).returncode == 0
    assert _outputs(project.root) == finished  # the killed run's outputs were whole: the same as a run's


def test_data_replaced_while_the_stage_ran_publishes_nothing(tmp_path):
    project = Project(tmp_path / "p")
    before = {f: (project.root / f).read_bytes() for f in project.files() if not f.startswith("data/")}
    data3 = project.params["data"]["data3"]
    proc = run_stage("pipeline.q3.train", ["gru"], cwd=project.root, fault=f"change:{data3}")
    assert proc.returncode == 2 and _error_lines(proc.stderr) == [
        f"error: {data3} changed while pipeline.q3.train gru ran; run again"], proc.stderr
    assert {f: (project.root / f).read_bytes() for f in project.files() if not f.startswith("data/")} == before
    assert not any((project.root / ".staging").iterdir())


@pytest.fixture
def small_disk(tmp_path):
    """A 4 KiB file system mounted at the project's .staging, where a stage writes its new outputs first."""
    project = Project(tmp_path / "p")
    staging_folder = project.root / ".staging"
    staging_folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(staging_folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    yield project
    subprocess.run(["umount", str(staging_folder)], check=True)


def test_a_full_disk_names_the_file_being_written(small_disk):
    proc = run_stage("pipeline.q1.preprocess", cwd=small_disk.root)
    lines = _error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert re.fullmatch(r"error: (results|plots)/q1/preprocess/[\w.]+: No space left on device; earlier outputs "
                        r"are unchanged", lines[0]), lines[0]
    assert not (small_disk.root / "results").exists()


def test_a_full_disk_in_process_names_the_file_too(project, monkeypatch, capsys):
    """The OSError of a full disk names no file (it comes from write()): the stage names the one it was writing."""
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    code, err = project.run(preprocess, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: results/q1/preprocess/summary.json: No space left on device; earlier "
                                 "outputs are unchanged"]


@pytest.mark.parametrize(("module", "args", "changes", "line"), [
    (q1_train, [], {"q1.solver": "sgd", "q1.sgd.batch_size": 10**7},
     "params.yaml q1.sgd.batch_size = 10000000: larger than the training set (32 patches); lower it"),
    (q2_train, [NET], {"q2.batch_size": 10**7},
     "params.yaml q2.batch_size = 10000000: larger than the training set (400 trigrams); lower it"),
    (q3_train, ["rnn"], {"q3.batch_size": 10**7, "q3.seeds": [0]},
     "params.yaml q3.batch_size = 10000000: larger than the training set ({windows} windows); lower it"),
], ids=["q1", "q2", "q3"])
def test_a_batch_larger_than_the_training_set_names_the_key_and_the_set(project, monkeypatch, capsys, module, args,
                                                                         changes, line):
    for key, value in changes.items():
        project.set(key, value)
    acts = load_activities(project.params["data"]["data3"])
    q3 = project.params["q3"]
    groups = train_trials(acts, q3["trial_degrees"])
    windows = len(validation_split(acts, groups, q3["val_fraction"], purpose_rngs(0)[0]).train)
    code, err = project.run(module, *args, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and [e for e in err if e.startswith("error: ")] == [f"error: {line.format(windows=windows)}"]


def test_a_divergence_from_weight_decay_names_weight_decay(project, monkeypatch, capsys):
    project.set("q2.sizes.d4_p8.weight_decay", 1000)
    monkeypatch.setenv("EEE443_JOBS", "1")
    code, err = project.run(q2_train, NET, monkeypatch=monkeypatch, capsys=capsys)
    errors = [e for e in err if e.startswith("error: ")]
    assert code == 2 and len(errors) == 1
    assert re.fullmatch(rf"error: q2_train {NET} seed 0: training diverged at epoch \d+ \(loss \S+\); lower "
                        rf"params.yaml q2.sizes.{NET}.lr \(now 0.5\), q2.sizes.{NET}.weight_decay \(now 1000\), "
                        r"q2.momentum \(now \S+\) or q2.init_std \(now \S+\)", errors[0]), errors[0]


def test_the_stage_name_of_messages_is_dvcs_under_dvc_repro(tmp_path):
    """DVC names the stage in DVC_STAGE; run directly, a stage is named by its command."""
    project = Project(tmp_path / "p")
    data3 = project.params["data"]["data3"]
    proc = subprocess.run([sys.executable, "-m", "pipeline.q3.train", "gru"], cwd=project.root, capture_output=True,
                          text=True, env=stage_env(f"change:{data3}", DVC_STAGE="q3_train@gru"), timeout=HANG)
    assert _error_lines(proc.stderr) == [f"error: {data3} changed while q3_train@gru ran; run again"], proc.stderr
