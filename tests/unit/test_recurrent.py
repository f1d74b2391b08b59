"""Q3 library: RNN / LSTM / GRU classifiers against finite differences and PyTorch autograd."""

import numpy as np
import pytest

from models.gradcheck import check_gradients
from models.mlp import MLPHead
from models.recurrent import Workspace, flush_tiny, recurrent_matrix
from models.sequence_classifier import RecurrentClassifier

CELLS = ("rnn", "lstm", "gru")


def small_problem(cell, seed=0, workers=1, head=(5, 4), steps=5, init="glorot"):
    """N=3, T=steps, D=3, H=4, head of two hidden layers, 6 classes; float64 with random biases."""
    rng = np.random.default_rng(seed)
    model = RecurrentClassifier(cell, n_inputs=3, hidden=4, head=head, n_classes=6, workers=workers,
                                recurrent_init=init, recurrent_gain=1.0)
    params = model.init_params(rng, np.float64)
    for name, array in params.items():
        if name.startswith("b"):  # non-zero biases, so every bias path is exercised
            array += rng.normal(0, 0.3, array.shape)
    x = rng.standard_normal((3, steps, 3))
    y = np.array([0, 5, 2])
    return model, params, (x, y)


def test_workspace_views_share_one_growing_buffer_per_name():
    ws = Workspace()
    big = ws.get("gates", (4, 8, 3), np.float32)
    small = ws.get("gates", (2, 5, 3), np.float32)
    assert big.shape == (4, 8, 3) and small.shape == (2, 5, 3) and small.flags.c_contiguous
    assert np.shares_memory(big, small)  # a smaller request reuses the buffer
    assert not np.shares_memory(ws.get("gates", (4, 8, 3), np.float64), big)  # another dtype: another buffer
    assert not np.shares_memory(ws.get("slopes", (2, 5, 3), np.float32), small)  # another name: another buffer


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_do_not_depend_on_the_earlier_shapes_a_workspace_served(cell):
    """Training batches and evaluation chunks of other sizes take turns on one workspace."""
    model, params, (x, y) = small_problem(cell)
    _, fresh = small_problem(cell)[0].loss_and_grads(params, (x, y))
    rng = np.random.default_rng(1)
    model.predict(params, rng.standard_normal((7, 9, 3)))  # more rows and steps first
    model.loss_and_grads(params, (x[:2], y[:2]))  # then fewer rows
    _, reused = model.loss_and_grads(params, (x, y))
    assert all(np.array_equal(reused[name], fresh[name]) for name in fresh)


@pytest.mark.parametrize("cell", CELLS)
def test_every_gradient_matches_central_differences(cell):
    model, params, batch = small_problem(cell)
    errors = check_gradients(model.loss_and_grads, params, batch)
    assert set(errors) == set(params)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", CELLS)
def test_workers_split_gives_the_same_loss_and_gradients(cell):
    model, params, batch = small_problem(cell)
    threaded, _, _ = small_problem(cell, workers=2)
    loss1, grads1 = model.loss_and_grads(params, batch)
    loss2, grads2 = threaded.loss_and_grads(params, batch)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for name in grads1:
        np.testing.assert_allclose(grads2[name], grads1[name], rtol=1e-10, atol=1e-14)


def test_empty_head_and_orthogonal_init_still_check():
    model, params, batch = small_problem("rnn", head=(), init="orthogonal")
    assert set(params) == {"Wx", "Wh", "b", "W1", "b1"}
    assert max(check_gradients(model.loss_and_grads, params, batch).values()) < 1e-6


def test_recurrent_inits():
    rng = np.random.default_rng(1)
    q = recurrent_matrix(rng, 6, 2, "orthogonal", 1.0, np.float64)
    for block in (q[:, :6], q[:, 6:]):
        np.testing.assert_allclose(block.T @ block, np.eye(6), atol=1e-12)
    np.testing.assert_array_equal(recurrent_matrix(rng, 3, 1, "identity", 0.5, np.float32), 0.5 * np.eye(3))
    w = recurrent_matrix(rng, 50, 1, "glorot", 1.0, np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 100) and np.abs(w).max() > 0.9 * np.sqrt(6 / 100)


def test_flush_tiny_zeroes_only_negligible_entries():
    a = np.array([1e-30, -1e-36, 3e-3, -0.5, 2e-20], dtype=np.float32)
    flush_tiny(a)
    np.testing.assert_array_equal(a[:2], 0)
    np.testing.assert_allclose(a[2:], [3e-3, -0.5, 2e-20], rtol=1e-6)
    b = np.array([1e-300, 1e-150, 0.25])
    flush_tiny(b)  # float64: the threshold is ~1e-170
    np.testing.assert_allclose(b, [0.0, 1e-150, 0.25], rtol=1e-12, atol=0)


def test_predict_is_a_probability_distribution_and_evaluate_agrees():
    model, params, (x, y) = small_problem("gru")
    model.eval_chunk = 2  # exercise the chunking
    probs = model.predict(params, x)
    assert probs.shape == (3, 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    loss, _ = model.loss_and_grads(params, (x, y))
    result = model.evaluate(params, (x, y))
    assert result["loss"] == pytest.approx(loss, rel=1e-12)
    assert result["accuracy"] == pytest.approx(np.mean(probs.argmax(axis=1) == y))


def test_loss_stays_finite_when_a_probability_underflows_in_float32():
    head = MLPHead(2, (), 2)
    params = {"W1": np.array([[200.0, -200.0], [0.0, 0.0]], dtype=np.float32), "b1": np.zeros(2, np.float32)}
    loss, _, _, p = head.loss_and_grads(params, np.ones((1, 2), np.float32), np.array([1]))
    assert p[0, 1] == 0.0 and loss == pytest.approx(400.0, rel=1e-6)  # -log p = 400, not inf


def test_mlp_head_relu_masks_dead_units():
    head = MLPHead(2, (3,), 2)
    params = {"W1": np.array([[1.0, -1.0, 0.5], [0.0, 0.0, 0.0]]), "b1": np.zeros(3),
              "W2": np.ones((3, 2)), "b2": np.zeros(2)}
    _, grads, _, _ = head.loss_and_grads(params, np.array([[1.0, 2.0]]), np.array([0]))
    assert grads["W1"][:, 1].tolist() == [0.0, 0.0]  # unit 2 has z = -1: no gradient passes


def _torch_reference(torch, cell, params, x, y):
    """Our parameters copied into nn.RNN / nn.LSTM / nn.GRU + nn.Linear layers; loss and named grads."""
    nn = torch.nn
    hidden = params["Wh"].shape[0]
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](3, hidden, batch_first=True).double()
    tensor = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    bias_hh = np.zeros_like(params["b"])
    if cell == "gru":
        bias_hh[2 * hidden :] = params["bhn"]
    with torch.no_grad():
        module.weight_ih_l0.copy_(tensor(params["Wx"].T))
        module.weight_hh_l0.copy_(tensor(params["Wh"].T))
        module.bias_ih_l0.copy_(tensor(params["b"]))
        module.bias_hh_l0.copy_(tensor(bias_hh))
    layers = sorted(k for k in params if k.startswith("W") and k[1:].isdigit())
    weights = {k: tensor(params[k]).requires_grad_() for k in layers}
    biases = {k: tensor(params["b" + k[1:]]).requires_grad_() for k in layers}
    out, _ = module(tensor(x))
    a = out[:, -1]
    for k in layers[:-1]:
        a = torch.relu(a @ weights[k] + biases[k])
    logits = a @ weights[layers[-1]] + biases[layers[-1]]
    loss = nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    grads = {"Wx": module.weight_ih_l0.grad.T, "Wh": module.weight_hh_l0.grad.T, "b": module.bias_ih_l0.grad}
    if cell == "gru":
        grads["bhn"] = module.bias_hh_l0.grad[2 * hidden :]
    for k in layers:
        grads[k], grads["b" + k[1:]] = weights[k].grad, biases[k].grad
    return float(loss.detach()), {k: v.numpy() for k, v in grads.items()}


@pytest.mark.parametrize("cell", CELLS)
def test_loss_and_every_gradient_match_pytorch_autograd(cell):
    torch = pytest.importorskip("torch")
    model, params, (x, y) = small_problem(cell, seed=3, steps=7)
    loss, grads = model.loss_and_grads(params, (x, y))
    ref_loss, ref_grads = _torch_reference(torch, cell, params, x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    assert set(ref_grads) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(g, ref_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
