"""Faults of a stage run directly (`python -m ...`): its seed workers, its output swap, its data files, its messages.

Each test waits for events (a line, the end of the output once every process holding it has exited), never for a
time, so that it holds on a machine whose every core is busy (`python -m tools.busy pytest -m faults`).
"""

from __future__ import annotations

import os
import re
import signal
import sys

import pytest

from pipeline.common import parallel
from tests.conftest import Project, Watched, children, stage_env

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
