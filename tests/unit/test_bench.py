"""Smoke test of the benchmark's implementations on tiny data (nothing is timed).

The three implementations of each workload must compute the same loss from the same weights, before
and after two momentum steps; the hand-written baselines must pass a finite-difference gradient check.
"""

import dataclasses

import numpy as np
import pytest

from bench import baseline_autoencoder, baseline_language, baseline_recurrent, ours, report, workloads
from models.gradcheck import check_gradients

torch = pytest.importorskip("torch")
from bench.torch_models import TorchRunner  # noqa: E402

BASELINES = {"autoencoder": baseline_autoencoder, "language": baseline_language}


def tiny_workloads(rng: np.random.Generator) -> list[workloads.Workload]:
    ae = workloads.autoencoder(rng.uniform(0.1, 0.9, (40, 16)))
    ae = dataclasses.replace(ae, hyper={**ae.hyper, "n_hid": 5}, batch_size=8)
    x = rng.integers(0, 250, (60, 3))
    x[1] = x[0]  # repeated words must accumulate in the embedding gradient
    lm = workloads.language(x, rng.integers(0, 250, 60))
    lm = dataclasses.replace(lm, hyper={**lm.hyper, "dim": 4, "hidden": 6}, batch_size=20)
    seqs, labels = rng.standard_normal((24, 7, 3)), rng.integers(0, 6, 24)
    rec = [workloads.recurrent(cell, seqs, labels) for cell in workloads.CELLS]
    rec = [dataclasses.replace(w, hyper={**w.hyper, "hidden": 6, "head": 5}, batch_size=8) for w in rec]
    return [ae, lm, *rec]


def baseline_for(work):
    return BASELINES.get(work.family, baseline_recurrent)


@pytest.mark.parametrize("index", range(5))
def test_ours_torch_and_baseline_agree_before_and_after_two_steps(index):
    rng = np.random.default_rng(index)
    work = tiny_workloads(rng)[index]
    weights = workloads.reference_weights(work, rng)
    order = rng.permutation(work.n_samples)
    runners = [ours.build(work, weights, order, 1), TorchRunner(work, weights, order, flush_denormal=True),
               baseline_for(work).build(work, weights, order)]
    losses = []
    for runner in runners:
        before = runner.batch_loss(0)
        runner.train_batches(2)
        losses.append((before, runner.batch_loss(0)))
    reference = np.array(losses[-1])
    assert reference[1] != pytest.approx(reference[0], rel=1e-3)  # the two steps changed the weights
    for got in losses[:-1]:
        np.testing.assert_allclose(got, reference, rtol=2e-5)


@pytest.mark.parametrize("index", range(5))
def test_baseline_gradients_match_finite_differences(index):
    rng = np.random.default_rng(10 + index)
    work = tiny_workloads(rng)[index]
    weights = {k: w + 0.1 * rng.standard_normal(w.shape) for k, w in workloads.reference_weights(work, rng).items()}
    runner = baseline_for(work).build(work, weights, np.arange(work.n_samples))
    batch = tuple(a[:8] for a in work.data)
    errors = check_gradients(runner.cost, runner.params, batch)
    assert max(errors.values()) < 1e-6, errors


def test_report_ratios_use_the_faster_torch_and_median_times():
    peaks = {"float32@2": 100.0, "float64@2": 50.0, "float32@1": 50.0, "float64@1": 25.0}
    raw = {"title": "t", "flops_per_sample": 1e9, "samples": 10, "losses": {},
           "loss_max_rel_diff": {"first_batch": 1e-7, "after_3_steps": 0.5},
           "seconds": {"ours": [1.0, 2.0, 9.0], "torch": [8.0], "torch+FTZ": [4.0], "baseline": [6.0],
                       "ours (1 thread)": [3.0]}}
    (row,) = report.summarise([raw], peaks, 2, {"first_batch": 1e-4, "after_3_steps": 1e-2})
    assert row["torch_best"] == "torch+FTZ"
    assert row["ours_over_torch"] == pytest.approx(0.5)
    assert row["baseline_over_ours"] == pytest.approx(3.0)
    assert row["ours_1thread_over_ours"] == pytest.approx(1.5)
    assert row["impls"]["ours"]["gflops"] == pytest.approx(5.0)  # 10 GFLOP / 2 s median
    assert row["impls"]["baseline"]["peak_fraction"] == pytest.approx(10 / 6 / 50)
    assert not row["loss_agree"]
