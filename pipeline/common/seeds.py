"""One network trained once per seed, the trainings side by side on the machine's cores, and their spread.

A stage trains its network for every seed of its params.yaml `seeds` list with `map_seeds`: `jobs()` worker
processes (one per core; all the trainings at once when they are more than the cores but fewer than twice as many,
see `jobs`; EEE443_JOBS=<n> caps it), each training on one BLAS thread, so a training's numbers are the same bit
for bit whether it ran alone or beside another. A process pool inside the stage, not one DVC stage per seed:
`dvc repro` runs stages one at a time, and the pool keeps one stage per network, so `dvc exp run -S` on a network's
setting still re-runs that network only.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
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


def _run(seed: int) -> object:
    return _task(seed)


def map_seeds(train_one: Callable[[int], T], seeds: Sequence[int]) -> list[T]:
    """[train_one(seed) for seed in seeds], in that order, on `jobs(len(seeds))` processes.

    `train_one` may be any callable (a closure over loaded data is fine): forked workers inherit it; only the seeds
    and the results cross between processes, so results must pickle. An exception in a worker (the UserError of a
    diverged training) is raised here once the running trainings have ended; Ctrl-C stops them at once.
    """
    global _task
    n_jobs = jobs(len(seeds))
    if n_jobs == 1:
        return [train_one(seed) for seed in seeds]
    _task = train_one
    try:
        with multiprocessing.get_context("fork").Pool(n_jobs, initializer=_start_worker) as pool:
            return pool.map(_run, seeds, chunksize=1)
    finally:
        _task = None


def spread(values: Sequence[float]) -> dict[str, float]:
    """mean, std (sample standard deviation, ddof 1; 0 for a single value), min and max of `values`."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def median_seed(seeds: Sequence[int], scores: Sequence[float]) -> int:
    """The seed whose score is the median (the lower middle one for an even count; ties to the earlier seed)."""
    order = sorted(range(len(seeds)), key=lambda i: (scores[i], i))
    return seeds[order[(len(seeds) - 1) // 2]]


def over_seeds(rows: list[dict], keys: Sequence[str], median_by: str) -> dict:
    """What a network's result.json says of its seeds, from one summary row per seed (each with "seed", `keys`,
    "best_epoch", "stopped_epoch"): the seeds, the median seed by `median_by`, the spread of each key and the
    per-seed rows cut to those columns."""
    seeds = [row["seed"] for row in rows]
    return {"seeds": seeds, "median_seed": median_seed(seeds, [row[median_by] for row in rows]),
            **{key: spread([row[key] for row in rows]) for key in keys},
            "per_seed": [{key: row[key] for key in ("seed", *keys, "best_epoch", "stopped_epoch")} for row in rows]}


def seed_folder(seed: int) -> str:
    """Name of a seed's sub-folder in a network's output folders: 'seed0', 'seed1', ..."""
    return f"seed{seed}"
