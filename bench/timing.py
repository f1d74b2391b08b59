"""Interleaved timing of several runners, and the loss-agreement check that precedes it."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Sequence

import numpy as np

from bench.runner import Runner


def interleaved(runners: Sequence[Runner], n_batches: int, reps: int, warmup: int, tag: str) -> dict[str, list[float]]:
    """Seconds of `train_batches(n_batches)` per runner, run in turn (A, B, C, A, B, C, ...).

    Each run starts from the initial weights (`reset`, not timed) after a garbage collection, so every
    run does the same work. The first `warmup` rounds (a tenth of `n_batches` each: enough to start
    threads, fill caches and allocator pools) are discarded. Progress goes to stderr.
    """
    times: dict[str, list[float]] = {r.label: [] for r in runners}
    for rnd in range(warmup + reps):
        for runner in runners:
            runner.reset()
            gc.collect()
            start = time.perf_counter()
            runner.train_batches(n_batches if rnd >= warmup else max(1, n_batches // 10))
            seconds = time.perf_counter() - start
            kept = rnd >= warmup
            if kept:
                times[runner.label].append(seconds)
            phase = f"rep {rnd - warmup + 1}/{reps}" if kept else f"warm-up {rnd + 1}/{warmup}"
            print(f"{tag} {phase} {runner.label}: {seconds:.3f} s", file=sys.stderr, flush=True)
    return times


def summary(seconds: list[float]) -> dict[str, float]:
    """median, min and max of the kept repetitions."""
    return {"median": float(np.median(seconds)), "min": float(min(seconds)), "max": float(max(seconds))}


def loss_check(runners: Sequence[Runner], steps: int = 3) -> dict[str, dict[str, float]]:
    """Loss of mini-batch 0 at the initial weights and again after `steps` training steps, per runner.

    The first shows the forward passes agree, the second that gradients and momentum updates do too.
    Runners are reset afterwards.
    """
    losses = {}
    for runner in runners:
        runner.reset()
        first = runner.batch_loss(0)
        runner.train_batches(steps)
        losses[runner.label] = {"first_batch": first, f"after_{steps}_steps": runner.batch_loss(0)}
        runner.reset()
    return losses


def max_relative_difference(losses: dict[str, dict[str, float]], reference: str) -> dict[str, float]:
    """Per check point, the largest |loss - loss_ref| / |loss_ref| over the runners."""
    ref = losses[reference]
    return {point: max(abs(entry[point] - value) / abs(value) for entry in losses.values())
            for point, value in ref.items()}
