"""The fast layers of models.recurrent equal the plain reference of models.recurrent_reference (float64), one
layer and two stacked; the reference's gradients (parameters and input) match central differences."""

import numpy as np
import pytest

from models.gradcheck import check_gradients
from models.recurrent import LAYERS
from models.recurrent_reference import REFERENCE_LAYERS, ReferenceClassifier
from models.sequence_classifier import RecurrentClassifier

CELLS = ("rnn", "lstm", "gru")
STEPS, ROWS, INPUTS, HIDDEN = 7, 5, 3, 4
TOLERANCE = {"rtol": 1e-12, "atol": 1e-13}


def problem(cell: str, seed: int = 0):
    """float64 params from the fast layer's init with random nonzero biases, x (T, N, D) and dout (T, N, H)."""
    rng = np.random.default_rng(seed)
    params = LAYERS[cell]().init_params(rng, n_in=INPUTS, hidden=HIDDEN, dtype=np.float64, recurrent_init="glorot",
                                        recurrent_gain=1.0)
    for name, array in params.items():
        if name.startswith("b"):
            array += rng.normal(0, 0.5, array.shape)
    x = rng.standard_normal((STEPS, ROWS, INPUTS))
    dout = rng.standard_normal((STEPS, ROWS, HIDDEN))
    return params, x, dout


@pytest.mark.parametrize("cell", CELLS)
def test_fast_layer_equals_reference(cell):
    params, x, dout = problem(cell)
    fast, reference = LAYERS[cell](), REFERENCE_LAYERS[cell]
    out_fast, fast_cache = fast.forward(params, x)
    out_reference, reference_cache = reference.forward(params, x)
    assert out_fast.shape == out_reference.shape == (STEPS, ROWS, HIDDEN)
    np.testing.assert_allclose(out_fast, out_reference, **TOLERANCE)
    dx_fast, fast_grads = fast.backward(params, fast_cache, dout, input_grad=True)
    dx_reference, reference_grads = reference.backward(params, reference_cache, dout)
    assert dx_fast.shape == dx_reference.shape == x.shape
    np.testing.assert_allclose(dx_fast, dx_reference, **TOLERANCE)
    assert set(fast_grads) == set(reference_grads) == set(params) == set(fast.param_names)
    for name, array in params.items():
        assert reference_grads[name].shape == array.shape, name
        np.testing.assert_allclose(fast_grads[name], reference_grads[name], **TOLERANCE, err_msg=name)
    no_dx, same_grads = fast.backward(params, fast_cache, dout)  # input_grad=False: the same, without dx
    assert no_dx is None
    assert all(np.array_equal(same_grads[name], fast_grads[name]) for name in params)


@pytest.mark.parametrize("cell", CELLS)
def test_each_layer_object_owns_its_buffers(cell):
    """A second layer object's forward leaves the first one's output and cache intact."""
    params, x, dout = problem(cell)
    first, second = LAYERS[cell](), LAYERS[cell]()
    out, cache = first.forward(params, x)
    expected = out.copy()
    second.forward(params, -x)  # same shapes: a shared buffer would be overwritten
    np.testing.assert_array_equal(out, expected)
    _, grads = first.backward(params, cache, dout)
    _, reference_grads = REFERENCE_LAYERS[cell].backward(params, REFERENCE_LAYERS[cell].forward(params, x)[1], dout)
    for name in params:
        np.testing.assert_allclose(grads[name], reference_grads[name], **TOLERANCE, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_reference_gradients_match_central_differences(cell):
    params, x, dout = problem(cell, seed=1)
    reference = REFERENCE_LAYERS[cell]

    def loss_and_grads(p, batch):
        """J = sum_t sum(h_t * dout_t), so dJ/dh_t = dout_t; p holds the parameters and the input x."""
        (dout,) = batch
        layer_params = {name: p[name] for name in reference.param_names}
        out, cache = reference.forward(layer_params, p["x"])
        dx, grads = reference.backward(layer_params, cache, dout)
        return float(np.sum(out * dout)), {**grads, "x": dx}

    errors = check_gradients(loss_and_grads, {**params, "x": x}, (dout,))
    assert set(errors) == {*params, "x"}
    assert max(errors.values()) < 1e-6, errors


def two_layer_problem(cell: str, seed: int):
    """A 2-layer RecurrentClassifier with random nonzero biases, its float64 params and a batch (N, T, D)."""
    rng = np.random.default_rng(seed)
    model = RecurrentClassifier(cell, n_inputs=INPUTS, hidden=HIDDEN, head=(5,), n_classes=6, recurrent_init="glorot",
                                recurrent_gain=1.0, layers=2)
    params = model.init_params(rng, np.float64)
    for name, array in params.items():
        if name.startswith("b"):
            array += rng.normal(0, 0.5, array.shape)
    x = rng.standard_normal((ROWS, STEPS, INPUTS))
    y = rng.integers(0, 6, ROWS)
    return model, params, (x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_two_layer_classifier_equals_the_reference_stack(cell):
    model, params, batch = two_layer_problem(cell, seed=2)
    loss, grads = model.loss_and_grads(params, batch)
    ref_loss, ref_grads = ReferenceClassifier(cell, 2, model.head).loss_and_grads(params, batch)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    assert set(grads) == set(ref_grads) == set(params)
    for name in params:
        np.testing.assert_allclose(grads[name], ref_grads[name], **TOLERANCE, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_two_layer_reference_stack_matches_central_differences(cell):
    model, params, batch = two_layer_problem(cell, seed=3)
    errors = check_gradients(ReferenceClassifier(cell, 2, model.head).loss_and_grads, params, batch)
    assert set(errors) == set(params)
    assert max(errors.values()) < 1e-6, errors
