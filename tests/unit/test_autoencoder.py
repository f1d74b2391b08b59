"""The sparse autoencoder: gradients (finite differences and torch autograd), flat interface, cost terms."""

import numpy as np
import pytest

from models.autoencoder import SparseAutoencoder, ae_cost, pack_params, unpack_params
from models.gradcheck import check_gradients, numeric_gradient, relative_error


def _setup(n=7, n_in=6, n_hidden=4, lam=0.03, beta=0.7, rho=0.2, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    model = SparseAutoencoder(n_in, n_hidden, lam=lam, beta=beta, rho=rho)
    params = model.init_params(rng, dtype)
    x = rng.uniform(0.1, 0.9, size=(n, n_in)).astype(dtype)
    return model, params, x


def test_gradients_match_central_differences_for_every_parameter():
    model, params, x = _setup()
    errors = check_gradients(model.loss_and_grads, params, (x,))
    assert set(errors) == {"W1", "W2", "b1", "b2"}
    assert max(errors.values()) < 1e-6, errors


def test_flat_interface_gradient_matches_central_differences():
    model, params, x = _setup(lam=0.01, beta=2.0, rho=0.05, seed=1)
    fields = {"Lin": 6, "Lhid": 4, "lambda": 0.01, "beta": 2.0, "rho": 0.05}
    we = pack_params(params)
    j, grad = ae_cost(we, x.T, fields)
    assert j == pytest.approx(model.loss_and_grads(params, (x,))[0], rel=1e-14)
    numeric = numeric_gradient(lambda: ae_cost(we, x.T, fields)[0], we)
    assert grad.shape == we.shape
    assert relative_error(grad, numeric) < 1e-6


def test_flat_interface_accepts_an_object_with_fields():
    class Fields:
        Lin, Lhid, beta, rho = 6, 4, 0.5, 0.1

    fields = Fields()
    setattr(fields, "lambda", 0.02)  # 'lambda' is a Python keyword, as in MATLAB's params.lambda
    model, params, x = _setup(lam=0.02, beta=0.5, rho=0.1)
    assert ae_cost(pack_params(params), x.T, fields)[0] == pytest.approx(model.loss_and_grads(params, (x,))[0])


def test_pack_unpack_round_trip_and_order():
    model, params, _ = _setup()
    flat = pack_params(params)
    assert flat.shape == (6 * 4 * 2 + 4 + 6,)
    np.testing.assert_array_equal(flat[:24], params["W1"].ravel())  # W1 first, then W2, b1, b2
    np.testing.assert_array_equal(flat[-6:], params["b2"])
    back = unpack_params(flat, 6, 4)
    for name, array in params.items():
        np.testing.assert_array_equal(back[name], array)
    with pytest.raises(ValueError, match="expected"):
        unpack_params(flat[:-1], 6, 4)


def test_terms_add_up_and_weight_decay_is_not_divided_by_n():
    model, params, x = _setup()
    terms = model.evaluate(params, (x,))
    assert terms["loss"] == pytest.approx(terms["mse"] + terms["decay"] + terms["sparsity"], rel=1e-14)
    expected_decay = 0.03 / 2 * sum(float((params[k] ** 2).sum()) for k in ("W1", "W2"))
    assert terms["decay"] == pytest.approx(expected_decay, rel=1e-14)
    # Doubling the batch with copies keeps every per-sample term: decay does not shrink with N.
    assert model.evaluate(params, (np.vstack([x, x]),))["decay"] == pytest.approx(terms["decay"])
    assert model.loss_and_grads(params, (x,))[0] == pytest.approx(terms["loss"], rel=1e-14)


def test_hand_checked_tiny_case_kl_zero_at_target_and_mse_of_half():
    # All weights 0: h = sigmoid(0) = 0.5 = rho, so KL = 0; o = 0.5, so mse = 1/(2N) sum (x - 0.5)^2.
    model = SparseAutoencoder(2, 3, lam=0.1, beta=5.0, rho=0.5)
    params = {name: np.zeros(shape) for name, shape in model.shapes().items()}
    x = np.array([[0.1, 0.9], [0.5, 0.3]])
    terms = model.evaluate(params, (x,))
    assert terms["sparsity"] == 0.0 and terms["decay"] == 0.0
    assert terms["mse"] == pytest.approx((0.16 + 0.16 + 0.0 + 0.04) / 4)
    assert terms["rho_hat"] == 0.5
    # KL(0.2 || 0.5) = 0.2 log 0.4 + 0.8 log 1.6 per hidden unit, times beta and 3 units.
    far = SparseAutoencoder(2, 3, lam=0.0, beta=5.0, rho=0.2).evaluate(params, (x,))["sparsity"]
    assert far == pytest.approx(5.0 * 3 * (0.2 * np.log(0.4) + 0.8 * np.log(1.6)))


def test_saturated_units_stay_finite_and_gradient_consistent():
    # b1 = +-40 pins two units at 1 and 0: rhohat is clipped, the KL term is finite, and the
    # gradient (masked where the clip is active) still matches finite differences.
    model, params, x = _setup()
    params["b1"][:2] = [40.0, -40.0]
    loss, _ = model.loss_and_grads(params, (x,))
    assert np.isfinite(loss)
    assert max(check_gradients(model.loss_and_grads, params, (x,)).values()) < 1e-6


def test_float32_stays_float32_and_agrees_with_float64():
    model, p64, x64 = _setup()
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    loss32, g32 = model.loss_and_grads(p32, (x64.astype(np.float32),))
    loss64, g64 = model.loss_and_grads(p64, (x64,))
    assert all(g.dtype == np.float32 for g in g32.values())
    assert model.predict(p32, x64.astype(np.float32)).dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name in g64:
        assert relative_error(g32[name].astype(np.float64), g64[name]) < 1e-5


def test_init_is_uniform_within_glorot_bound_per_layer():
    model = SparseAutoencoder(256, 64, 5e-4, 0.1, 0.05)
    params = model.init_params(np.random.default_rng(3))
    w0 = np.sqrt(6 / (256 + 64))
    for name in ("W1", "W2", "b1", "b2"):
        assert np.abs(params[name]).max() <= w0
        assert np.abs(params[name]).max() > 0.9 * w0
    again = model.init_params(np.random.default_rng(3))
    np.testing.assert_array_equal(again["W1"], params["W1"])


def test_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    model, params, x = _setup(n=9, lam=0.02, beta=0.9, rho=0.15, seed=4)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, dtype=torch.float64)
    h = torch.sigmoid(xt @ t["W1"] + t["b1"])
    o = torch.sigmoid(h @ t["W2"] + t["b2"])
    rhohat = h.mean(dim=0)
    rho = 0.15
    kl = rho * torch.log(rho / rhohat) + (1 - rho) * torch.log((1 - rho) / (1 - rhohat))
    j = ((o - xt) ** 2).sum() / (2 * len(x)) + 0.02 / 2 * ((t["W1"] ** 2).sum() + (t["W2"] ** 2).sum())
    j = j + 0.9 * kl.sum()
    j.backward()
    loss, grads = model.loss_and_grads(params, (x,))
    assert loss == pytest.approx(j.item(), rel=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, t[name].grad.numpy(), rtol=1e-9, atol=1e-12)
