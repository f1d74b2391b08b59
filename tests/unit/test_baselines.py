"""The baselines: count model, window statistics, PCA."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.q1.pca import heldout_r2
from pipeline.q2.ngram import CountModel, fit_weights, score
from pipeline.q3.features import accuracy, fit_softmax, summary_features


def test_the_count_model_is_exact_where_the_context_decides_and_its_weights_are_a_mixture():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, (2000, 3))
    d = (x[:, 0] + x[:, 1] + x[:, 2]) % 20  # the three words decide the fourth
    model = CountModel(x, d, 20)
    orders = model.orders(x[:5])
    assert orders.shape == (5, 5, 20) and np.allclose(orders.sum(axis=2), 1)
    assert np.array_equal(orders[0].argmax(axis=1), d[:5])  # the 4-gram table alone is right
    weights = fit_weights(model, x, d)
    assert weights.sum() == pytest.approx(1) and weights[0] > 0.99
    result = score(model, weights, x, d)
    assert result["accuracy"] == 1 and result["cross_entropy"] < 0.02


def test_an_unseen_context_falls_back_on_the_shorter_ones():
    x = np.array([[1, 2, 3], [4, 2, 3]])
    model = CountModel(x, np.array([5, 5]), 10)
    orders = model.orders(np.array([[9, 9, 3]]))
    assert orders[0].sum() == 0 and orders[1].sum() == 0  # no 4-gram, no trigram context (9, 3)
    assert orders[2, 0, 5] == 1 and orders[3, 0, 5] == 1 and orders[4, 0, 0] == pytest.approx(0.1)


def test_window_statistics_and_softmax_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 20, 3))
    y = np.repeat(np.arange(3), 20)
    x[y == 1] += 3.0  # class 1 has a larger mean, class 2 a larger spread
    x[y == 2] *= 4.0
    features = summary_features(x)
    assert features.shape == (60, 36)
    np.testing.assert_allclose(features[:, 0], x[:, :, 0].mean(axis=1))
    np.testing.assert_allclose(features[:, 3 * 4 + 3], np.linalg.norm(x, axis=2).max(axis=1))
    standard = (features - features.mean(axis=0)) / features.std(axis=0)
    params = fit_softmax(standard, y, 3, 1e-3)
    assert accuracy(params, standard, y) == 1.0
    stronger = fit_softmax(standard, y, 3, 10.0)
    assert np.abs(stronger["W1"]).sum() < np.abs(params["W1"]).sum()


def test_pca_explains_more_with_more_components_and_everything_at_full_rank():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 8))  # rank 3
    scores = heldout_r2(data[:150], data[150:], [1, 2, 3])
    assert scores[1] < scores[2] < scores[3] == pytest.approx(1)
