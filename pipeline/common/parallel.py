"""Independent trainings side by side on the machine's cores: how many processes, and the map that runs them.

A stage runs its trainings (one per seed of a network; one per configuration of the Q1 sweep) with `map_parallel`:
`jobs()` worker processes (one per core; all the trainings at once when they are more than the cores but fewer than
twice as many, see `jobs`; EEE443_JOBS=<n> caps it), each training on one BLAS thread, so a training's numbers are
the same bit for bit whether it ran alone or beside another. A process pool inside the stage, not one DVC stage per
training: `dvc repro` runs stages one at a time, and the pool keeps one stage per network, so `dvc exp run -S` on a
network's setting still re-runs that network only.

Faults: Ctrl-C and SIGTERM reach the stage (workers ignore Ctrl-C: a terminal sends it to the whole process group),
which kills every worker before it exits. A worker that dies (kill -9, the out-of-memory killer) stops the stage
with one line naming its training and how it died. A worker whose stage died exits at once, quietly.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import TypeVar

from threadpoolctl import threadpool_limits

from pipeline.common.errors import UserError, signals_held, stage

T = TypeVar("T")
JOBS_VARIABLE = "EEE443_JOBS"
PARENT_POLL = 0.5  # seconds between a worker's checks that its stage is alive
_fork = multiprocessing.get_context("fork")  # workers inherit the training function and its data, never pickled


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


def map_parallel(train_one: Callable[[int], T], items: Sequence[int],
                 label: Callable[[int], str] = "seed {}".format) -> list[T]:
    """[train_one(item) for item in items], in that order, on `jobs(len(items))` processes; an item is a seed or
    an index into the caller's list of configurations, which `label(item)` names in messages.

    `train_one` may be any callable (a closure over loaded data is fine): forked workers inherit it; only the items
    and the results cross between processes, so results must pickle. The first exception of a training (the
    UserError of a diverged one) stops the other trainings and is raised here; so is a UserError naming the training
    whose worker died. Ctrl-C and SIGTERM stop every worker at once.
    """
    n_jobs = jobs(len(items))
    if n_jobs == 1:
        return [train_one(item) for item in items]
    results: list = [None] * len(items)
    waiting = list(reversed(range(len(items))))  # indices into items, the next one last
    running: dict[Connection, tuple[multiprocessing.Process, int]] = {}  # a worker's pipe -> it, its index
    workers: list[multiprocessing.Process] = []
    try:
        with signals_held():  # a worker sets its own signal handling before it takes a signal
            for _ in range(n_jobs):
                ours, theirs = _fork.Pipe()
                inherited = [*running, ours]  # the stage's ends of the pipes: the worker closes its copies
                worker = _fork.Process(target=_work, args=(train_one, theirs, inherited, os.getpid()), daemon=True)
                worker.start()
                theirs.close()
                workers.append(worker)
                running[ours] = (worker, -1)
        for pipe in list(running):
            _give(pipe, running, waiting, items, label)
        while running:
            ready = wait([*running, *(worker.sentinel for worker, _ in running.values())])
            for pipe, (worker, index) in list(running.items()):
                if pipe in ready:  # before its sentinel: a worker may send its result and be killed right after
                    try:
                        ok, value = pipe.recv()
                    except EOFError:  # died while sending
                        worker.join()
                        raise UserError(_died(items[index], worker.exitcode, label)) from None
                    if not ok:
                        raise value
                    results[index] = value
                    _give(pipe, running, waiting, items, label)
                elif worker.sentinel in ready:
                    worker.join()
                    raise UserError(_died(items[index], worker.exitcode, label))
        return results
    finally:
        for worker in workers:
            worker.kill()
        for worker in workers:
            worker.join()


def _give(pipe: Connection, running: dict, waiting: list[int], items: Sequence[int],
          label: Callable[[int], str]) -> None:
    """The worker of `pipe` takes the next waiting item, or is told to stop and leaves `running`."""
    worker, _ = running[pipe]
    if not waiting:
        with contextlib.suppress(BrokenPipeError):  # one that died after its last result lost nothing
            pipe.send(None)
        del running[pipe]
        worker.join()
        return
    index = waiting.pop()
    try:
        pipe.send(items[index])
    except BrokenPipeError:  # killed since it sent its last result
        worker.join()
        raise UserError(_died(items[index], worker.exitcode, label)) from None
    running[pipe] = (worker, index)


def _died(item: int, exitcode: int, label: Callable[[int], str]) -> str:
    """The line of a worker that died running `item`."""
    if exitcode < 0:
        how = f"was killed by {signal.Signals(-exitcode).name}"
        if -exitcode == signal.SIGKILL:
            how += " (kill -9, or the machine ran out of memory)"
    else:
        how = f"exited with code {exitcode}"
    return f"{stage()} {label(item)}: its worker process {how}; earlier outputs are unchanged"


def _work(train_one: Callable[[int], object], pipe: Connection, others: list[Connection], stage_pid: int) -> None:
    """A worker: trains the items its stage sends, one at a time, and sends back (True, result) or (False, the
    exception) for each, until it is sent None; it exits quietly as soon as its stage is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the stage's to handle: it kills the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for other in others:  # the stage's ends of the other workers' pipes, inherited by the fork
        other.close()
    threading.Thread(target=_exit_with, args=(stage_pid,), daemon=True).start()
    threadpool_limits(1)
    try:
        while (item := pipe.recv()) is not None:
            try:
                reply = (True, train_one(item))
            except BaseException as err:  # every failure goes back to the stage
                reply = (False, _portable(err))
            pipe.send(reply)
    except (EOFError, OSError):  # the stage is gone
        os._exit(0)


def _exit_with(stage_pid: int) -> None:
    """Exit this worker, quietly, once its stage process is gone (the worker is then adopted by another)."""
    while os.getppid() == stage_pid:
        time.sleep(PARENT_POLL)
    os._exit(0)


def _portable(err: BaseException) -> BaseException:
    """`err` to send to the stage: a bug's with the worker's traceback as a note (a UserError is one line without
    one); a RuntimeError saying the same when it does not pickle."""
    if not isinstance(err, UserError):
        err.add_note("in a worker process:\n" + "".join(traceback.format_exception(err)).rstrip())
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # an exception class whose arguments do not rebuild it
        failure = RuntimeError(f"{type(err).__name__}: {err}")
        failure.__notes__ = getattr(err, "__notes__", [])
        return failure
    return err
