"""pipeline.q3.intervals: the bootstrap over test trials and the t-test of a difference over few seeds.

Every case is deterministic: the draws come from the module's fixed seed (or a seed given here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.q3.intervals import DRAWS, Predictions, bootstrap_means, difference, draw_weights, interval


def in_trials(correct: np.ndarray, trial: np.ndarray) -> Predictions:
    """Predictions whose windows come in trials (each trial one fragment)."""
    return Predictions(correct, trial, trial)


def right_first(counts: list[int], n: int, trial: np.ndarray) -> Predictions:
    """One row per seed: the seed's model right on the first counts[seed] of n windows."""
    return in_trials(np.stack([np.arange(n) < c for c in counts]), trial)


def spread_out(counts: list[int], n: int, trial: np.ndarray) -> Predictions:
    """As right_first, but each seed's right windows spread evenly over the file (not all in the first
    trials)."""
    rows = []
    for c in counts:
        row = np.zeros(n, dtype=bool)
        row[np.linspace(0, n - 1, c).round().astype(int)] = True
        assert row.sum() == c
        rows.append(row)
    return in_trials(np.stack(rows), trial)


def test_predictions_from_the_seeds_test_prediction_files():
    frames = [pd.DataFrame({"trial": [0, 0, 1], "fragment": [0, 1, 2], "true": [2, 2, 5], "predicted": p})
              for p in ([2, 1, 5], [2, 2, 5])]
    p = Predictions.from_frames(frames)
    np.testing.assert_array_equal(p.correct, [[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(p.trial, [0, 0, 1])
    np.testing.assert_array_equal(p.fragment, [0, 1, 2])
    np.testing.assert_allclose(p.accuracies(), [2 / 3, 1.0])


def test_draw_weights_draw_whole_trials_as_often_as_there_are_trials():
    trial = np.array([3, 3, 3, 7, 9, 9])  # 3 trials, labels need not be 0..R-1
    weights = draw_weights(trial, draws=500, seed=1)
    assert weights.shape == (500, 6)
    np.testing.assert_array_equal(weights[:, 0], weights[:, 1])  # windows of one trial: drawn together
    np.testing.assert_array_equal(weights[:, 0], weights[:, 2])
    np.testing.assert_array_equal(weights[:, 4], weights[:, 5])
    np.testing.assert_array_equal(weights[:, [0, 3, 4]].sum(axis=1), 3)  # R trials per draw, with replacement
    np.testing.assert_array_equal(draw_weights(trial, draws=500, seed=1), weights)  # reproducible


def test_resampling_is_by_trial_by_hand():
    # trial 0: three windows, all right; trial 1: one window, wrong. A draw takes 2 trials:
    # (0, 0) -> 6 of 6 right; (0, 1) -> 3 of 4; (1, 1) -> 0 of 2. Resampling single windows would also give
    # 1/4, 2/4, ... ; whole trials give only these three means.
    p = in_trials(np.array([[True, True, True, False]]), np.array([0, 0, 0, 1]))
    means = bootstrap_means(p, draw_weights(p.trial))
    assert means.shape == (DRAWS,)
    assert set(np.round(means, 12)) == {0.0, 0.75, 1.0}
    shares = [np.mean(np.isclose(means, v)) for v in (1.0, 0.75, 0.0)]  # binomial(2, 1/2): 1/4, 1/2, 1/4
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=0.04)


def test_bootstrap_means_average_the_seeds_on_each_draw():
    trial = np.array([0, 0, 1, 1])
    p = in_trials(np.array([[True, True, False, False], [True, True, True, False]]), trial)
    weights = np.array([[1, 1, 1, 1], [2, 2, 0, 0], [0, 0, 2, 2]])  # as drawn; the original, rec 0 twice, rec 1 twice
    np.testing.assert_allclose(bootstrap_means(p, weights), [(0.5 + 0.75) / 2, 1.0, (0.0 + 0.5) / 2])


def test_the_interval_is_wider_when_windows_come_in_trials():
    n = 40
    correct = np.repeat([True] * 8 + [False] * 2, 4)  # 80 % right; whole trials right or wrong
    by_trial = in_trials(correct[None, :], np.repeat(np.arange(10), 4))  # 10 trials of 4 windows
    single = in_trials(correct[None, :], np.arange(n))  # every window its own trial
    low_g, high_g = interval(by_trial, draw_weights(by_trial.trial))
    low_s, high_s = interval(single, draw_weights(single.trial))
    assert low_g < 0.8 < high_g and low_s < 0.8 < high_s
    assert high_g - low_g > 1.5 * (high_s - low_s)  # about twice: sqrt(40 / 10)


def test_the_interval_of_a_perfect_model_is_a_point():
    p = in_trials(np.ones((3, 12), dtype=bool), np.repeat(np.arange(4), 3))
    assert interval(p, draw_weights(p.trial)) == (1.0, 1.0)


def test_identical_predictions_differ_by_zero_and_tie():
    trial = np.repeat(np.arange(20), 3)
    a = spread_out([45, 50, 55], 60, trial)
    d = difference(a, a, draw_weights(trial))
    assert d["difference"] == 0 and d["p_value"] == pytest.approx(1.0)
    b = spread_out([50, 50, 50], 60, trial)  # every seed alike: no variance at all
    d = difference(b, b, draw_weights(trial))
    assert d == {"difference": 0.0, "half_width": 0.0, "dof": np.inf, "p_value": 1.0}


def test_a_large_consistent_difference_over_three_seeds_is_no_tie():
    trial = np.repeat(np.arange(100), 2)  # 200 windows, 100 trials
    weights = draw_weights(trial)
    a = spread_out([182, 184, 186], 200, trial)  # 91-93 %
    b = spread_out([158, 160, 162], 200, trial)  # 79-81 %
    d = difference(a, b, weights)
    assert d["difference"] == pytest.approx(0.12)
    assert d["p_value"] < 0.001 and d["half_width"] < 0.12
    back = difference(b, a, weights)  # the other way round: the sign only
    assert back["difference"] == pytest.approx(-0.12) and back["half_width"] == pytest.approx(d["half_width"])
    assert back["p_value"] == pytest.approx(d["p_value"])


def test_the_same_mean_difference_with_a_wide_seed_spread_is_a_tie():
    trial = np.arange(200)
    weights = draw_weights(trial)
    b = right_first([160, 160, 160], 200, trial)  # 80 %, every seed alike
    steady = difference(right_first([180, 182, 184], 200, trial), b, weights)
    spread = difference(right_first([170, 182, 194], 200, trial), b, weights)  # 85-97 %: the same mean
    assert steady["difference"] == pytest.approx(spread["difference"]) == pytest.approx(0.11)
    assert steady["p_value"] < 0.05 <= spread["p_value"]
    # with 3 seeds the seed variance has 2 degrees of freedom (a few more with the test set's part, counted as
    # known): the t quantile (about 3), not 1.96, makes the difference a tie; the normal one would call it significant
    assert 2 <= spread["dof"] < 5
    se = spread["half_width"] / stats.t.ppf(0.975, spread["dof"])
    assert 1.96 * se < 0.11 < spread["half_width"]
    assert spread["p_value"] > 0.05 > 2 * stats.norm.sf(0.11 / se)


@pytest.mark.parametrize("seed", range(8))
def test_the_p_value_and_the_half_width_agree(seed):
    rng = np.random.default_rng(seed)
    trial = np.repeat(np.arange(30), 4)
    weights = draw_weights(trial, draws=500, seed=seed)
    a = in_trials(rng.random((3, 120)) < rng.uniform(0.7, 0.95), trial)
    b = in_trials(rng.random((3, 120)) < rng.uniform(0.7, 0.95), trial)
    d = difference(a, b, weights)
    assert (abs(d["difference"]) < d["half_width"]) == (d["p_value"] >= 0.05)
    assert 0 < d["p_value"] <= 1 and d["half_width"] > 0 and d["dof"] >= 2
    at_edge = stats.t.ppf(0.975, d["dof"]) * abs(d["difference"]) / d["half_width"]  # |d| / se
    assert d["p_value"] == pytest.approx(2 * stats.t.sf(at_edge, d["dof"]))
