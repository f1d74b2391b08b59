"""The fast layers of models.recurrent equal the plain reference of models.recurrent_reference (float64),
and the reference's gradients match central differences."""

import numpy as np
import pytest

from models.gradcheck import check_gradients
from models.recurrent import LAYERS, Workspace
from models.recurrent_reference import REFERENCE_LAYERS

CELLS = ("rnn", "lstm", "gru")
STEPS, ROWS, INPUTS, HIDDEN = 7, 5, 3, 4
TOLERANCE = {"rtol": 1e-12, "atol": 1e-13}


def problem(cell: str, seed: int = 0):
    """float64 params from the fast layer's init with random nonzero biases, x (T, N, D) and dh_last (N, H)."""
    rng = np.random.default_rng(seed)
    params = LAYERS[cell].init_params(rng, n_in=INPUTS, hidden=HIDDEN, dtype=np.float64, recurrent_init="glorot",
                                      recurrent_gain=1.0)
    for name, array in params.items():
        if name.startswith("b"):
            array += rng.normal(0, 0.5, array.shape)
    x = rng.standard_normal((STEPS, ROWS, INPUTS))
    dh_last = rng.standard_normal((ROWS, HIDDEN))
    return params, x, dh_last


@pytest.mark.parametrize("cell", CELLS)
def test_fast_layer_equals_reference(cell):
    params, x, dh_last = problem(cell)
    fast, reference = LAYERS[cell], REFERENCE_LAYERS[cell]
    ws = Workspace()
    h_fast, fast_cache = fast.forward(params, x, ws)
    h_reference, reference_cache = reference.forward(params, x)
    np.testing.assert_allclose(h_fast, h_reference, **TOLERANCE)
    fast_grads = fast.backward(params, fast_cache, dh_last, ws)
    reference_grads = reference.backward(params, reference_cache, dh_last)
    assert set(fast_grads) == set(reference_grads) == set(params)
    for name, array in params.items():
        assert reference_grads[name].shape == array.shape, name
        np.testing.assert_allclose(fast_grads[name], reference_grads[name], **TOLERANCE, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_reference_gradients_match_central_differences(cell):
    params, x, dh_last = problem(cell, seed=1)
    reference = REFERENCE_LAYERS[cell]

    def loss_and_grads(p, batch):
        """J = sum(h_T * dh_last), so dJ/dh_T = dh_last."""
        x, dh_last = batch
        h_last, cache = reference.forward(p, x)
        return float(np.sum(h_last * dh_last)), reference.backward(p, cache, dh_last)

    errors = check_gradients(loss_and_grads, params, (x, dh_last))
    assert set(errors) == set(params)
    assert max(errors.values()) < 1e-6, errors
