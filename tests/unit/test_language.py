"""Q2 trigram model: finite differences, a PyTorch cross-check, float32, top_k."""

import numpy as np
import pytest

from models.gradcheck import check_gradients
from models.language import TrigramLM, top_k

# word 1 three times in row 0 and again in rows 2 and 3; word 6 twice within row 3; targets repeat too
X = np.array([[1, 1, 1], [2, 3, 4], [1, 5, 2], [6, 6, 1], [0, 2, 2]])
D = np.array([1, 2, 6, 1, 1])


def small_model(rng_seed=0, dtype=np.float64):
    model = TrigramLM(vocab=7, dim=3, hidden=5, init_std=0.5)  # std 0.5: gradients far from 0
    return model, model.init_params(np.random.default_rng(rng_seed), dtype)


def test_every_gradient_matches_finite_differences_with_repeated_words():
    model, params = small_model()
    errors = check_gradients(model.loss_and_grads, params, (X, D))
    assert set(errors) == {"R", "W1", "b1", "W2", "b2"}
    assert max(errors.values()) < 1e-6, errors


def test_embedding_gradient_accumulates_every_repeat():
    """dR[v] must equal the sum of the input-layer gradient over all positions holding v."""
    model, params = small_model()
    _, grads = model.loss_and_grads(params, (X, D))
    de = model._workspace(len(X), np.dtype(np.float64)).demb.reshape(-1, model.dim)
    expected = np.zeros_like(params["R"])
    for (n, k), word in np.ndenumerate(X):
        expected[word] += de[3 * n + k]
    np.testing.assert_allclose(grads["R"], expected, rtol=1e-12, atol=1e-15)
    assert np.abs(grads["R"][1]).sum() > 0 and np.abs(grads["R"][6]).sum() > 0


def test_loss_and_gradients_agree_with_pytorch_autograd():
    torch = pytest.importorskip("torch")
    model, params = small_model(rng_seed=3)
    loss, grads = model.loss_and_grads(params, (X, D))

    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(X)
    e = t["R"][x].reshape(len(X), -1)
    h = torch.sigmoid(e @ t["W1"] + t["b1"])
    ref = torch.nn.functional.cross_entropy(h @ t["W2"] + t["b2"], torch.tensor(D))
    ref.backward()
    assert loss == pytest.approx(ref.item(), abs=1e-12)
    for name, value in t.items():
        np.testing.assert_allclose(grads[name], value.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_float32_matches_float64_and_keeps_dtype():
    model, p64 = small_model(rng_seed=1)
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    loss64, g64 = model.loss_and_grads(p64, (X, D))
    loss32, g32 = model.loss_and_grads(p32, (X, D))
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name in g64:
        assert g32[name].dtype == np.float32
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-3, atol=1e-5)


def test_gradients_are_fresh_arrays_not_overwritten_by_the_next_call():
    model, params = small_model()
    _, first = model.loss_and_grads(params, (X, D))
    kept = {k: v.copy() for k, v in first.items()}
    model.loss_and_grads(params, (X[::-1].copy(), D[::-1].copy()))
    for name in kept:
        np.testing.assert_array_equal(first[name], kept[name])


def test_extreme_logits_stay_finite():
    model, params = small_model()
    params["W2"] *= 1e4  # logits of order 1e4: a naive exp overflows
    loss, grads = model.loss_and_grads(params, (X, D))
    assert np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
    ev = model.evaluate(params, (X, D))
    assert np.isfinite(ev["loss"]) and ev["loss"] == pytest.approx(loss)


def test_evaluate_and_predict_agree():
    model, params = small_model()
    probs = model.predict(params, X)
    assert probs.shape == (len(X), 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    ev = model.evaluate(params, (X, D))
    assert ev["loss"] == pytest.approx(-np.mean(np.log(probs[np.arange(len(X)), D])))
    assert ev["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == D))
    assert ev["loss"] == pytest.approx(model.loss_and_grads(params, (X, D))[0])


def test_init_is_gaussian_with_the_given_std_and_shapes():
    model = TrigramLM(vocab=250, dim=16, hidden=128, init_std=0.01)
    params = model.init_params(np.random.default_rng(0), np.float32)
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"R": (250, 16), "W1": (48, 128), "b1": (128,), "W2": (128, 250), "b2": (250,)}
    assert params["W2"].dtype == np.float32
    assert params["W2"].std() == pytest.approx(0.01, rel=0.05)


def test_top_k_returns_the_most_probable_first():
    probs = np.array([0.05, 0.4, 0.1, 0.3, 0.15])
    idx, val = top_k(probs, 3)
    np.testing.assert_array_equal(idx, [1, 3, 4])
    np.testing.assert_array_equal(val, [0.4, 0.3, 0.15])
    idx2, val2 = top_k(np.stack([probs, probs[::-1]]), 2)
    np.testing.assert_array_equal(idx2, [[1, 3], [3, 1]])
    np.testing.assert_array_equal(val2, [[0.4, 0.3], [0.4, 0.3]])
    with pytest.raises(ValueError):
        top_k(probs, 6)


def test_bad_input_shape_is_rejected():
    model, params = small_model()
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        model.loss_and_grads(params, (X[:, :2], D))
