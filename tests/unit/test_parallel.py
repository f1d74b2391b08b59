"""pipeline.common.parallel: the worker count and the trainings side by side."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
from multiprocessing.connection import Connection

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from pipeline.common import errors, parallel
from pipeline.common.errors import UserError

HANG = 120  # seconds: a ceiling that only a hang reaches (each wait here is for an event of a second or less)


@pytest.fixture
def four_cores(monkeypatch):
    """A machine with 4 cores for this process and no EEE443_JOBS, whatever runs the test."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv(parallel.JOBS_VARIABLE, raising=False)
    return monkeypatch


def test_jobs_is_one_per_core_at_most_one_per_task(four_cores):
    assert parallel.jobs(3) == 3 and parallel.jobs(4) == 4 and parallel.jobs(8) == 4 and parallel.jobs(10) == 4
    assert parallel.jobs(1) == 1


@pytest.mark.parametrize(("tasks", "expected"), [(5, 5), (6, 6), (7, 7)])
def test_jobs_runs_a_ragged_last_round_at_once(four_cores, tasks, expected):
    """5 to 7 trainings on 4 cores would leave cores idle in a second round: all start at once."""
    assert parallel.jobs(tasks) == expected


def test_jobs_on_one_core_is_one(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.delenv("EEE443_JOBS", raising=False)
    assert parallel.jobs(1) == 1 and parallel.jobs(3) == 1


@pytest.mark.parametrize(("value", "expected"), [("2", 2), (" 3 ", 3), ("1", 1), ("16", 3), ("", 3)])
def test_jobs_honours_eee443_jobs(four_cores, value, expected):
    four_cores.setenv("EEE443_JOBS", value)
    assert parallel.jobs(3) == expected


@pytest.mark.parametrize(("value", "expected"), [("2", 2), ("4", 4), ("16", 6)])
def test_eee443_jobs_caps_the_ragged_round_too(four_cores, value, expected):
    four_cores.setenv("EEE443_JOBS", value)
    assert parallel.jobs(6) == expected


@pytest.mark.parametrize("value", ["0", "x", "-1", "1.5", "2 cores"])
def test_a_bad_eee443_jobs_is_one_line(four_cores, value):
    four_cores.setenv("EEE443_JOBS", value)
    with pytest.raises(UserError) as err:
        parallel.jobs(3)
    assert str(err.value) == f"environment variable EEE443_JOBS = {value.strip()!r}: must be a positive integer"


def noisy_mean(seed: int) -> tuple[int, float, int]:
    """A small pure function of the seed: the seed, a mean of random numbers drawn from it, the process id."""
    return seed, float(np.random.default_rng(seed).standard_normal(1000).mean()), os.getpid()


@pytest.mark.parametrize("order", [[0, 1, 2], [3, 1, 2, 0], [7]])
def test_map_parallel_gives_the_same_results_in_item_order_on_one_or_two_processes(four_cores, order):
    four_cores.setenv("EEE443_JOBS", "1")
    alone = parallel.map_parallel(noisy_mean, order)
    four_cores.setenv("EEE443_JOBS", "2")
    side_by_side = parallel.map_parallel(noisy_mean, order)
    assert [r[:2] for r in side_by_side] == [r[:2] for r in alone] == [noisy_mean(s)[:2] for s in order]
    assert {r[2] for r in alone} == {os.getpid()}  # one job: in this process
    if len(order) > 1:
        assert os.getpid() not in {r[2] for r in side_by_side}  # two jobs: in worker processes


def test_map_parallel_runs_a_closure_in_workers_of_one_blas_thread(four_cores):
    data = np.arange(10.0)  # a closure over local data: forked workers inherit it, it is never pickled

    def train_one(seed: int) -> tuple[float, set[int]]:
        return float(data[seed] * 2), {lib["num_threads"] for lib in threadpool_info()}

    results = parallel.map_parallel(train_one, [4, 2, 9])
    assert [r[0] for r in results] == [8.0, 4.0, 18.0]
    assert all(r[1] <= {1} for r in results)  # every BLAS / OpenMP library on one thread


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_exception_in_a_training_reaches_the_caller(four_cores, jobs):
    four_cores.setenv("EEE443_JOBS", jobs)

    def train_one(seed: int) -> int:
        if seed == 2:
            raise UserError(f"q3_train gru seed {seed}: training diverged at epoch 1 (loss nan)")
        return seed

    with pytest.raises(UserError, match=r"^q3_train gru seed 2: training diverged at epoch 1 \(loss nan\)$"):
        parallel.map_parallel(train_one, [0, 1, 2])
    assert parallel.map_parallel(train_one, [0, 1]) == [0, 1]  # the pool is usable again afterwards


@pytest.fixture
def stage_name(monkeypatch):
    """The stage name messages give, whatever stage an earlier test ran in this process."""
    monkeypatch.setattr(errors, "_stage", "q9_test@net")


@pytest.mark.parametrize(("signum", "how"), [
    (signal.SIGKILL, "was killed by SIGKILL (kill -9, or the machine ran out of memory)"),
    (signal.SIGTERM, "was killed by SIGTERM"),
    (None, "exited with code 3"),
])
def test_a_worker_that_dies_stops_the_map_with_one_line_naming_its_item(four_cores, stage_name, signum, how):
    four_cores.setenv("EEE443_JOBS", "2")

    def train_one(seed: int) -> int:
        if seed == 1:  # dies as kill -9 or the out-of-memory killer would end it
            os.kill(os.getpid(), signum) if signum else os._exit(3)
        return seed

    with pytest.raises(UserError) as err:
        parallel.map_parallel(train_one, [0, 1, 2])
    assert str(err.value) == f"q9_test@net seed 1: its worker process {how}; earlier outputs are unchanged"


def test_the_caller_names_its_items(four_cores, stage_name):
    configs = ["h4_l0", "h8_l0.01"]

    def train_one(index: int) -> int:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(UserError, match=r"^q9_test@net h(4_l0|8_l0\.01): its worker process was killed by SIGKILL"):
        parallel.map_parallel(train_one, [0, 1], lambda i: configs[i])


def test_a_bug_in_a_worker_reaches_the_caller_with_the_worker_traceback(four_cores):
    def train_one(seed: int) -> float:
        return {}[seed]

    with pytest.raises(KeyError) as err:
        parallel.map_parallel(train_one, [0, 1])
    assert "in a worker process:" in err.value.__notes__[0] and "return {}[seed]" in err.value.__notes__[0]


def _stage_of_sleeping_workers(seeds: list[int], started: Connection) -> None:
    """A stage (a forked process of the test) whose trainings tell `started` their pid, then never end."""
    def train_one(seed: int) -> None:
        started.send(os.getpid())
        threading.Event().wait()

    parallel.map_parallel(train_one, seeds)


def test_workers_exit_on_their_own_when_their_stage_is_killed(four_cores):
    """kill -9 of the stage: its workers notice and exit, quietly. The test holds the read end of a pipe whose write
    end the stage and its workers inherit: it reads end-of-file once every one of them has exited."""
    four_cores.setenv("EEE443_JOBS", "2")
    fork = multiprocessing.get_context("fork")
    started, told = fork.Pipe(duplex=False)
    held_open_r, held_open_w = os.pipe()
    stage_process = fork.Process(target=_stage_of_sleeping_workers, args=([0, 1], told))
    stage_process.start()
    os.close(held_open_w)
    workers = {started.recv(), started.recv()}  # both trainings are under way
    assert len(workers) == 2 and stage_process.pid not in workers
    os.kill(stage_process.pid, signal.SIGKILL)
    stage_process.join()
    ready, _, _ = select.select([held_open_r], [], [], HANG)
    assert ready and os.read(held_open_r, 1) == b"", "a worker outlived its stage"
    os.close(held_open_r)
