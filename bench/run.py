"""Time one training epoch of each workload in our library, PyTorch and a typical NumPy baseline.

    python -m bench                # full run (~10-15 min on 2 cores), writes bench/results/latest.{md,json}
    python -m bench --quick        # smoke run: 10 % of an epoch, 2 repetitions
    OPENBLAS_NUM_THREADS=1 python -m bench --name threads1   # whole run with 1 BLAS thread

Workloads W1 (sparse autoencoder), W2 (trigram LM), W3-RNN/LSTM/GRU (sequence classifiers). Each
implementation starts from the same weights and sees the same batches; runs are interleaved (ours,
torch, torch+FTZ, baseline, ours with 1 BLAS thread, ours, ...) after a warm-up round. PyTorch gets
as many threads as NumPy's OpenBLAS has. Losses on the first batch (and after 3 steps) are compared
before timing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import typer
from threadpoolctl import threadpool_limits

from bench import baseline_autoencoder, baseline_language, baseline_recurrent, machine, ours, report, timing
from bench.workloads import Workload, load_all, reference_weights
from pipeline.common.errors import UserError, make_app, run

BASELINES = {"autoencoder": baseline_autoencoder, "language": baseline_language, "rnn": baseline_recurrent,
             "lstm": baseline_recurrent, "gru": baseline_recurrent}
# Largest relative loss difference to the float64 baseline still counted as agreement: at the initial
# weights float32 vs float64 differ by ~1e-6; after 3 updates the 150-step RNN amplifies float32 rounding
# to ~3e-3 (torch in float64 matches the baseline to 1e-15), while a wrong gradient gives > 1e-1.
AGREE_RTOL = {"first_batch": 1e-4, "after_3_steps": 2e-2}

app = make_app(__doc__)


def bench_workload(work: Workload, rng: np.random.Generator, fraction: float, reps: int, warmup: int,
                   threads: int) -> dict:
    """Loss check, then interleaved timing, of every implementation of `work`; one result dict."""
    from bench.torch_models import TorchRunner

    weights = reference_weights(work, rng)
    order = rng.permutation(work.n_samples)
    n_batches = work.n_batches(fraction)
    runners, notes = [], []
    try:
        runners.append(ours.build(work, weights, order, threads))
        one_thread = ours.build(work, weights, order, 1, "ours (1 thread)") if threads > 1 else None
    except ImportError as err:
        one_thread = None
        notes.append(f"ours not measured: {err}")
    runners += [TorchRunner(work, weights, order, False), TorchRunner(work, weights, order, True),
                BASELINES[work.family].build(work, weights, order)]
    losses = timing.loss_check(runners)
    if one_thread is not None:
        runners.append(one_thread)
    print(f"{work.key} loss check: " + ", ".join(f"{k} {v['first_batch']:.6f}" for k, v in losses.items()),
          file=sys.stderr, flush=True)
    times = timing.interleaved(runners, n_batches, reps, warmup, work.key)
    return {
        "key": work.key, "title": work.title, "batch_size": work.batch_size, "batches": n_batches,
        "samples": work.samples_in(n_batches), "epoch_fraction": n_batches / work.n_batches(1.0),
        "lr": work.lr, "momentum": work.momentum, "hyper": work.hyper, "flops_per_sample": work.flops_per_sample,
        "losses": losses, "loss_max_rel_diff": timing.max_relative_difference(losses, "baseline"),
        "seconds": times, "notes": notes,
    }


@app.command()
def main(
    quick: bool = typer.Option(False, help="smoke run: 10 % of an epoch, 2 repetitions (unless given)"),
    reps: int = typer.Option(0, min=0, help="timed repetitions per implementation (0: 3, or 2 with --quick)"),
    warmup: int = typer.Option(1, min=0, help="untimed warm-up rounds"),
    fraction: float = typer.Option(0.0, min=0.0, max=1.0, help="part of an epoch timed (0: 1, or 0.1 with --quick)"),
    threads: int = typer.Option(0, min=0, help="NumPy BLAS and torch threads (0: OpenBLAS's current count)"),
    only: list[str] = typer.Option([], help="workload keys to run, e.g. --only W2 --only W3-LSTM (default all)"),
    data1: Path = typer.Option(Path("data/raw/data1.h5")),
    data2: Path = typer.Option(Path("data/raw/data2.h5")),
    data3: Path = typer.Option(Path("data/raw/data3.h5")),
    seed: int = typer.Option(0, help="seed of the shared initial weights, batch order and W3 subset"),
    out_dir: Path = typer.Option(Path("bench/results")),
    name: str = typer.Option("latest", help="results go to <out-dir>/<name>.md and .json"),
) -> None:
    """Run the benchmark and write the Markdown table and JSON results."""
    reps = reps or (2 if quick else 3)
    fraction = fraction or (0.1 if quick else 1.0)
    threads = threads or machine.blas_threads() or os.cpu_count() or 1
    rng = np.random.default_rng(seed)
    works = load_all(str(data1), str(data2), str(data3), rng)
    unknown = sorted(set(only) - {w.key for w in works})
    if unknown:
        raise UserError(f"--only {', '.join(unknown)}: unknown workload (known: {', '.join(w.key for w in works)})")
    works = [w for w in works if not only or w.key in only]
    settings = {"reps": reps, "warmup": warmup, "fraction": fraction, "threads": threads, "seed": seed,
                "agree_rtol": AGREE_RTOL, "quick": quick, "command": " ".join(["python -m bench", *sys.argv[1:]])}
    with threadpool_limits(limits=threads, user_api="blas"):
        _run(works, rng, settings, out_dir / f"{name}")


def _peaks(threads: int) -> dict[str, float]:
    """GEMM GFLOP/s per 'dtype@threads', float32 and float64, with 1 and `threads` BLAS threads."""
    peaks = {}
    for t in sorted({1, threads}):
        with threadpool_limits(limits=t, user_api="blas"):
            for dtype in (np.float32, np.float64):
                peaks[f"{np.dtype(dtype).name}@{t}"] = machine.gemm_gflops(dtype)
    return peaks


def _run(works: list[Workload], rng: np.random.Generator, settings: dict, stem: Path) -> None:
    """GEMM peaks, every workload, then the results files (BLAS threads already set)."""
    import torch

    torch.set_num_threads(settings["threads"])
    load_before = os.getloadavg()
    before = _peaks(settings["threads"])
    print(f"GEMM peak GFLOP/s: {before}", file=sys.stderr, flush=True)
    results = [bench_workload(w, rng, settings["fraction"], settings["reps"], settings["warmup"],
                              settings["threads"]) for w in works]
    after = _peaks(settings["threads"])
    peaks = {key: max(before[key], after[key]) for key in before}
    settings["gemm_peak_before_after"] = {key: [before[key], after[key]] for key in before}
    info = machine.describe(torch)
    info["loadavg_before"] = list(load_before)
    summary = report.summarise(results, peaks, settings["threads"], settings["agree_rtol"])
    report.write(stem.parent, stem.name, info, settings, peaks, summary)
    print(report.markdown(info, settings, peaks, summary), file=sys.stderr)


if __name__ == "__main__":
    run(app)
