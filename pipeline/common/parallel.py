"""Independent trainings side by side on the machine's cores: how many processes, and the map that runs them.

A stage runs its trainings (one per seed of a network; one per configuration of the Q1 sweep) with `map_parallel`:
`jobs()` worker processes (one per core; all the trainings at once when they are more than the cores but fewer than
twice as many, see `jobs`; EEE443_JOBS=<n> caps it), each training on one BLAS thread, so a training's numbers are
the same bit for bit whether it ran alone or beside another. A process pool inside the stage, not one DVC stage per
training: `dvc repro` runs stages one at a time, and the pool keeps one stage per network, so `dvc exp run -S` on a
network's setting still re-runs that network only.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import TypeVar

from threadpoolctl import threadpool_limits

from pipeline.common.errors import UserError

T = TypeVar("T")
JOBS_VARIABLE = "EEE443_JOBS"
_task: Callable[[int], object] | None = None  # the function the forked workers run, inherited, never pickled


def jobs(tasks: int) -> int:
    """Worker processes for `tasks` trainings, at most $EEE443_JOBS when set: one per core this process may use
    (at most one per training), except that trainings which would leave cores idle in a last round, being more
    than the cores but fewer than twice as many, all run at once and share the cores. 3 seeds on 2 cores: 3
    processes end in about 1.5 trainings' time instead of 2 (measured 14-25 % sooner for the Q2 and Q3 networks;
    the processes interleave on the cores, which costs some of the ideal 25 %)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = tasks if cores < tasks < 2 * cores else min(cores, tasks)
    limit = os.environ.get(JOBS_VARIABLE, "").strip()
    if limit:
        if not limit.isdigit() or int(limit) < 1:
            raise UserError(f"environment variable {JOBS_VARIABLE} = {limit!r}: must be a positive integer")
        workers = min(workers, int(limit))
    return max(1, workers)


def _start_worker() -> None:
    """Workers leave Ctrl-C to the stage, which stops them all; SIGTERM (Pool.terminate) ends a worker at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threadpool_limits(1)


def _run(item: int) -> object:
    return _task(item)


def map_parallel(train_one: Callable[[int], T], items: Sequence[int]) -> list[T]:
    """[train_one(item) for item in items], in that order, on `jobs(len(items))` processes; an item is a seed or
    an index into the caller's list of configurations.

    `train_one` may be any callable (a closure over loaded data is fine): forked workers inherit it; only the items
    and the results cross between processes, so results must pickle. An exception in a worker (the UserError of a
    diverged training) is raised here once the running trainings have ended; Ctrl-C stops them at once.
    """
    global _task
    n_jobs = jobs(len(items))
    if n_jobs == 1:
        return [train_one(item) for item in items]
    _task = train_one
    try:
        with multiprocessing.get_context("fork").Pool(n_jobs, initializer=_start_worker) as pool:
            return pool.map(_run, items, chunksize=1)
    finally:
        _task = None
