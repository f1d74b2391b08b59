"""Profile our implementation's training epoch with pyinstrument; list where the time goes.

    python -m bench.profile                      # W2 and W3-LSTM, a full epoch each
    python -m bench.profile --only W1 --fraction 0.2

Writes <out-dir>/profile_<key>.txt: the top functions by self time (time spent in the function's own
code, NumPy calls inside it included, library callees excluded), the top source lines of models/ (a
second, traced run: the time from one line event to the next, so each line's NumPy work is charged to
it; tracing adds ~1 us per line, so small lines look heavier), then pyinstrument's call tree.
"""

from __future__ import annotations

import linecache
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import typer
from threadpoolctl import threadpool_limits

import models
from bench import ours
from bench.workloads import load_all, reference_weights
from pipeline.common import io
from pipeline.common.errors import UserError, make_app, run

app = make_app(__doc__)


def self_times(frame, totals: dict[str, float] | None = None) -> dict[str, float]:
    """Self seconds per 'function (file:line)', summed over every place in the call tree.

    pyinstrument's synthetic '[self]' child frames repeat their parent's self time and are skipped.
    """
    totals = defaultdict(float) if totals is None else totals
    if not frame.function.startswith("["):
        totals[f"{frame.function} ({frame.file_path_short}:{frame.line_no})"] += frame.total_self_time
    for child in frame.children:
        self_times(child, totals)
    return totals


class LineTimer:
    """Seconds per source line of the files under `root`, from a sys.settrace line tracer."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.totals: dict[tuple[str, int], float] = defaultdict(float)
        self.current: tuple[str, int] | None = None
        self.since = 0.0

    def _global(self, frame, event, arg):
        return self._local if event == "call" and frame.f_code.co_filename.startswith(self.root) else None

    def _local(self, frame, event, arg):
        now = time.perf_counter()
        if self.current is not None:
            self.totals[self.current] += now - self.since
        self.current = (frame.f_code.co_filename, frame.f_lineno) if event == "line" else None
        self.since = time.perf_counter()
        return self._local

    def run(self, runner, n_batches: int) -> None:
        """Trace `runner.train_batches(n_batches)` from the initial weights."""
        runner.reset()
        sys.settrace(self._global)
        try:
            runner.train_batches(n_batches)
        finally:
            sys.settrace(None)

    def top(self, count: int) -> list[str]:
        total = sum(self.totals.values()) or 1.0
        ranked = sorted(self.totals.items(), key=lambda kv: -kv[1])[:count]
        return [f"  {sec:8.3f}  {100 * sec / total:5.1f} %  {Path(path).name}:{line}  "
                f"{linecache.getline(path, line).strip()}" for (path, line), sec in ranked]


def profile_epoch(runner, n_batches: int, interval: float):
    """Run `n_batches` training steps of `runner` under pyinstrument; return the profiler."""
    from pyinstrument import Profiler

    runner.reset()
    profiler = Profiler(interval=interval)
    profiler.start()
    runner.train_batches(n_batches)
    profiler.stop()
    return profiler


@app.command()
def main(
    only: list[str] = typer.Option(["W2", "W3-LSTM"], help="workload keys to profile"),
    fraction: float = typer.Option(1.0, min=0.001, max=1.0, help="part of an epoch profiled"),
    threads: int = typer.Option(1, min=1, help="threads ours may use (BLAS, or workers for W3)"),
    top: int = typer.Option(15, min=1, help="functions listed by self time"),
    interval: float = typer.Option(0.001, min=1e-5, help="pyinstrument sampling interval, seconds"),
    data1: Path = typer.Option(Path("data/raw/data1.h5")),
    data2: Path = typer.Option(Path("data/raw/data2.h5")),
    data3: Path = typer.Option(Path("data/raw/data3.h5")),
    seed: int = typer.Option(0),
    out_dir: Path = typer.Option(Path("bench/results")),
) -> None:
    """Profile ours on each chosen workload and write the call tree and the hotspot list."""
    rng = np.random.default_rng(seed)
    works = {w.key: w for w in load_all(str(data1), str(data2), str(data3), rng)}
    unknown = sorted(set(only) - set(works))
    if unknown:
        raise UserError(f"--only {', '.join(unknown)}: unknown workload (known: {', '.join(works)})")
    with threadpool_limits(limits=threads, user_api="blas"):
        for key in only:
            work = works[key]
            runner = ours.build(work, reference_weights(work, rng), rng.permutation(work.n_samples), threads)
            profiler = profile_epoch(runner, work.n_batches(fraction), interval)
            session = profiler.last_session
            ranked = sorted(self_times(session.root_frame()).items(), key=lambda kv: -kv[1])[:top]
            lines = [f"{key}: {work.n_batches(fraction)} batches, {session.duration:.2f} s, {threads} thread(s)",
                     f"top {top} by self time (s, % of the run):"]
            lines += [f"  {sec:8.3f}  {100 * sec / session.duration:5.1f} %  {name}" for name, sec in ranked]
            tracer = LineTimer(str(Path(models.__file__).parent))
            tracer.run(runner, work.n_batches(fraction))
            lines += [f"top {top} lines of models/ (traced run; s, % of traced time):", *tracer.top(top)]
            text = "\n".join(lines) + "\n\n" + profiler.output_text(unicode=True, color=False)
            io.write_text(out_dir / f"profile_{key}.txt", text)
            print("\n".join(lines), file=sys.stderr, flush=True)


if __name__ == "__main__":
    run(app)
