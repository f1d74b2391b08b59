"""pipeline.q3.intervals: the bootstrap over test recordings and the t-test of a difference over few seeds.

Every case is deterministic: the draws come from the module's fixed seed (or a seed given here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.q3.intervals import DRAWS, Predictions, bootstrap_means, difference, draw_weights, interval


def right_first(counts: list[int], n: int, recording: np.ndarray) -> Predictions:
    """One row per seed: the seed's model right on the first counts[seed] of n windows."""
    return Predictions(np.stack([np.arange(n) < c for c in counts]), recording)


def spread_out(counts: list[int], n: int, recording: np.ndarray) -> Predictions:
    """As right_first, but each seed's right windows spread evenly over the file (not all in the first
    recordings)."""
    rows = []
    for c in counts:
        row = np.zeros(n, dtype=bool)
        row[np.linspace(0, n - 1, c).round().astype(int)] = True
        assert row.sum() == c
        rows.append(row)
    return Predictions(np.stack(rows), recording)


def test_predictions_from_the_seeds_test_prediction_files():
    frames = [pd.DataFrame({"recording": [0, 0, 1], "true": [2, 2, 5], "predicted": p})
              for p in ([2, 1, 5], [2, 2, 5])]
    p = Predictions.from_frames(frames)
    np.testing.assert_array_equal(p.correct, [[True, False, True], [True, True, True]])
    np.testing.assert_array_equal(p.recording, [0, 0, 1])
    np.testing.assert_allclose(p.accuracies(), [2 / 3, 1.0])


def test_draw_weights_draw_whole_recordings_as_often_as_there_are_recordings():
    recording = np.array([3, 3, 3, 7, 9, 9])  # 3 recordings, labels need not be 0..R-1
    weights = draw_weights(recording, draws=500, seed=1)
    assert weights.shape == (500, 6)
    np.testing.assert_array_equal(weights[:, 0], weights[:, 1])  # windows of one recording: drawn together
    np.testing.assert_array_equal(weights[:, 0], weights[:, 2])
    np.testing.assert_array_equal(weights[:, 4], weights[:, 5])
    np.testing.assert_array_equal(weights[:, [0, 3, 4]].sum(axis=1), 3)  # R recordings per draw, with replacement
    np.testing.assert_array_equal(draw_weights(recording, draws=500, seed=1), weights)  # reproducible


def test_resampling_is_by_recording_by_hand():
    # recording 0: three windows, all right; recording 1: one window, wrong. A draw takes 2 recordings:
    # (0, 0) -> 6 of 6 right; (0, 1) -> 3 of 4; (1, 1) -> 0 of 2. Resampling single windows would also give
    # 1/4, 2/4, ... ; whole recordings give only these three means.
    p = Predictions(np.array([[True, True, True, False]]), np.array([0, 0, 0, 1]))
    means = bootstrap_means(p, draw_weights(p.recording))
    assert means.shape == (DRAWS,)
    assert set(np.round(means, 12)) == {0.0, 0.75, 1.0}
    shares = [np.mean(np.isclose(means, v)) for v in (1.0, 0.75, 0.0)]  # binomial(2, 1/2): 1/4, 1/2, 1/4
    np.testing.assert_allclose(shares, [0.25, 0.5, 0.25], atol=0.04)


def test_bootstrap_means_average_the_seeds_on_each_draw():
    recording = np.array([0, 0, 1, 1])
    p = Predictions(np.array([[True, True, False, False], [True, True, True, False]]), recording)
    weights = np.array([[1, 1, 1, 1], [2, 2, 0, 0], [0, 0, 2, 2]])  # as drawn; the original, rec 0 twice, rec 1 twice
    np.testing.assert_allclose(bootstrap_means(p, weights), [(0.5 + 0.75) / 2, 1.0, (0.0 + 0.5) / 2])


def test_the_interval_is_wider_when_windows_come_in_recordings():
    n = 40
    correct = np.repeat([True] * 8 + [False] * 2, 4)  # 80 % right; whole recordings right or wrong
    grouped = Predictions(correct[None, :], np.repeat(np.arange(10), 4))  # 10 recordings of 4 windows
    single = Predictions(correct[None, :], np.arange(n))  # every window its own recording
    low_g, high_g = interval(grouped, draw_weights(grouped.recording))
    low_s, high_s = interval(single, draw_weights(single.recording))
    assert low_g < 0.8 < high_g and low_s < 0.8 < high_s
    assert high_g - low_g > 1.5 * (high_s - low_s)  # about twice: sqrt(40 / 10)


def test_the_interval_of_a_perfect_model_is_a_point():
    p = Predictions(np.ones((3, 12), dtype=bool), np.repeat(np.arange(4), 3))
    assert interval(p, draw_weights(p.recording)) == (1.0, 1.0)


def test_identical_predictions_differ_by_zero_and_tie():
    recording = np.repeat(np.arange(20), 3)
    a = spread_out([45, 50, 55], 60, recording)
    d = difference(a, a, draw_weights(recording))
    assert d["difference"] == 0 and d["tie"] and d["p_value"] == pytest.approx(1.0)
    b = spread_out([50, 50, 50], 60, recording)  # every seed alike: no variance at all
    d = difference(b, b, draw_weights(recording))
    assert d == {"difference": 0.0, "half_width": 0.0, "dof": np.inf, "p_value": 1.0, "tie": True}


def test_a_large_consistent_difference_over_three_seeds_is_no_tie():
    recording = np.repeat(np.arange(100), 2)  # 200 windows, 100 recordings
    weights = draw_weights(recording)
    a = spread_out([182, 184, 186], 200, recording)  # 91-93 %
    b = spread_out([158, 160, 162], 200, recording)  # 79-81 %
    d = difference(a, b, weights)
    assert d["difference"] == pytest.approx(0.12)
    assert not d["tie"] and d["p_value"] < 0.001 and d["half_width"] < 0.12
    back = difference(b, a, weights)  # the other way round: the sign only
    assert back["difference"] == pytest.approx(-0.12) and back["half_width"] == pytest.approx(d["half_width"])
    assert back["p_value"] == pytest.approx(d["p_value"]) and not back["tie"]


def test_the_same_mean_difference_with_a_wide_seed_spread_is_a_tie():
    recording = np.arange(200)
    weights = draw_weights(recording)
    b = right_first([160, 160, 160], 200, recording)  # 80 %, every seed alike
    steady = difference(right_first([180, 182, 184], 200, recording), b, weights)
    spread = difference(right_first([170, 182, 194], 200, recording), b, weights)  # 85-97 %: the same mean
    assert steady["difference"] == pytest.approx(spread["difference"]) == pytest.approx(0.11)
    assert not steady["tie"] and spread["tie"]
    # with 3 seeds the seed variance has 2 degrees of freedom (a few more with the test set's part, counted as
    # known): the t quantile (about 3), not 1.96, makes the difference a tie; the normal one would call it significant
    assert 2 <= spread["dof"] < 5
    se = spread["half_width"] / stats.t.ppf(0.975, spread["dof"])
    assert 1.96 * se < 0.11 < spread["half_width"]
    assert spread["p_value"] > 0.05 > 2 * stats.norm.sf(0.11 / se)


@pytest.mark.parametrize("seed", range(8))
def test_the_p_value_and_the_half_width_agree(seed):
    rng = np.random.default_rng(seed)
    recording = np.repeat(np.arange(30), 4)
    weights = draw_weights(recording, draws=500, seed=seed)
    a = Predictions(rng.random((3, 120)) < rng.uniform(0.7, 0.95), recording)
    b = Predictions(rng.random((3, 120)) < rng.uniform(0.7, 0.95), recording)
    d = difference(a, b, weights)
    assert d["tie"] == (abs(d["difference"]) < d["half_width"]) == (d["p_value"] >= 0.05)
    assert 0 < d["p_value"] <= 1 and d["half_width"] > 0 and d["dof"] >= 2
    at_edge = stats.t.ppf(0.975, d["dof"]) * abs(d["difference"]) / d["half_width"]  # |d| / se
    assert d["p_value"] == pytest.approx(2 * stats.t.sf(at_edge, d["dof"]))
