"""Q3 library: RNN / LSTM / GRU classifiers, one layer and two stacked, against finite differences and PyTorch
autograd."""

import numpy as np
import pytest

from models.gradcheck import check_gradients
from models.mlp import MLPHead
from models.recurrent import LAYERS, Workspace, flush_tiny, layer_key, recurrent_matrix
from models.sequence_classifier import RecurrentClassifier

CELLS = ("rnn", "lstm", "gru")


def small_problem(cell, seed=0, workers=1, head=(5, 4), steps=5, init="glorot", layers=1):
    """N=3, T=steps, D=3, H=4, `layers` recurrent layers, head of two hidden layers, 6 classes; float64 with
    random biases."""
    rng = np.random.default_rng(seed)
    model = RecurrentClassifier(cell, n_inputs=3, hidden=4, head=head, n_classes=6, workers=workers,
                                recurrent_init=init, recurrent_gain=1.0, layers=layers)
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


@pytest.mark.parametrize("layers", (1, 2))
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_do_not_depend_on_the_earlier_shapes_a_workspace_served(cell, layers):
    """Training batches and evaluation chunks of other sizes take turns on one workspace."""
    model, params, (x, y) = small_problem(cell, layers=layers)
    _, fresh = small_problem(cell, layers=layers)[0].loss_and_grads(params, (x, y))
    rng = np.random.default_rng(1)
    model.predict(params, rng.standard_normal((7, 9, 3)))  # more rows and steps first
    model.loss_and_grads(params, (x[:2], y[:2]))  # then fewer rows
    _, reused = model.loss_and_grads(params, (x, y))
    assert all(np.array_equal(reused[name], fresh[name]) for name in fresh)


@pytest.mark.parametrize("layers", (1, 2))
@pytest.mark.parametrize("cell", CELLS)
def test_every_gradient_matches_central_differences(cell, layers):
    model, params, batch = small_problem(cell, layers=layers)
    errors = check_gradients(model.loss_and_grads, params, batch)
    assert set(errors) == set(params)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("layers", (1, 2))
@pytest.mark.parametrize("cell", CELLS)
def test_workers_split_gives_the_same_loss_and_gradients(cell, layers):
    model, params, batch = small_problem(cell, layers=layers)
    threaded, _, _ = small_problem(cell, workers=2, layers=layers)
    loss1, grads1 = model.loss_and_grads(params, batch)
    loss2, grads2 = threaded.loss_and_grads(params, batch)
    assert loss2 == pytest.approx(loss1, rel=1e-12)
    for name in grads1:
        np.testing.assert_allclose(grads2[name], grads1[name], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_stacked_parameters_are_named_by_layer_and_drawn_layer_by_layer(cell):
    gates = LAYERS[cell].gates
    one = RecurrentClassifier(cell, 3, 4, (5,), 6, "glorot", 1.0)
    three = RecurrentClassifier(cell, 3, 4, (5,), 6, "glorot", 1.0, layers=3)
    params1, params3 = one.init_params(np.random.default_rng(0)), three.init_params(np.random.default_rng(0))
    recurrent = LAYERS[cell].param_names
    assert list(params3) == [layer_key(n, k) for k in (1, 2, 3) for n in recurrent] + ["W1", "b1", "W2", "b2"]
    assert params3["Wx"].shape == (3, gates * 4) and params3["Wx_2"].shape == params3["Wx_3"].shape == (4, gates * 4)
    assert params3["Wh_3"].shape == (4, gates * 4) and params3["b_3"].shape == (gates * 4,)
    for name in recurrent:  # layer 1 comes first from the generator, whatever the depth
        np.testing.assert_array_equal(params3[name], params1[name])
    assert not np.array_equal(params3["Wx_2"], params3["Wh"])


@pytest.mark.parametrize("layers", (0, -1))
def test_layers_must_be_at_least_one(layers):
    with pytest.raises(ValueError, match="layers must be at least 1"):
        RecurrentClassifier("lstm", 3, 4, (5,), 6, "glorot", 1.0, layers=layers)


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


@pytest.mark.parametrize("layers", (1, 2))
def test_predict_is_a_probability_distribution_and_evaluate_agrees(layers):
    model, params, (x, y) = small_problem("gru", layers=layers)
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


def _torch_reference(torch, cell, params, x, y, layers):
    """Our parameters copied into nn.RNN / nn.LSTM / nn.GRU (num_layers=layers) + nn.Linear layers; loss and
    named grads. Torch's layer k - 1 holds our layer k: weight_ih = Wx^T, weight_hh = Wh^T, bias_ih = b, and
    bias_hh = 0 except the GRU's n block, which is bhn."""
    nn = torch.nn
    hidden = params["Wh"].shape[0]
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](3, hidden, num_layers=layers,
                                                                  batch_first=True).double()
    tensor = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
    for k in range(1, layers + 1):
        bias_hh = np.zeros_like(params["b"])
        if cell == "gru":
            bias_hh[2 * hidden :] = params[layer_key("bhn", k)]
        with torch.no_grad():
            getattr(module, f"weight_ih_l{k - 1}").copy_(tensor(params[layer_key("Wx", k)].T))
            getattr(module, f"weight_hh_l{k - 1}").copy_(tensor(params[layer_key("Wh", k)].T))
            getattr(module, f"bias_ih_l{k - 1}").copy_(tensor(params[layer_key("b", k)]))
            getattr(module, f"bias_hh_l{k - 1}").copy_(tensor(bias_hh))
    head_layers = sorted(k for k in params if k.startswith("W") and k[1:].isdigit())
    weights = {k: tensor(params[k]).requires_grad_() for k in head_layers}
    biases = {k: tensor(params["b" + k[1:]]).requires_grad_() for k in head_layers}
    out, _ = module(tensor(x))
    a = out[:, -1]
    for k in head_layers[:-1]:
        a = torch.relu(a @ weights[k] + biases[k])
    logits = a @ weights[head_layers[-1]] + biases[head_layers[-1]]
    loss = nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    grads = {}
    for k in range(1, layers + 1):
        grads[layer_key("Wx", k)] = getattr(module, f"weight_ih_l{k - 1}").grad.T
        grads[layer_key("Wh", k)] = getattr(module, f"weight_hh_l{k - 1}").grad.T
        grads[layer_key("b", k)] = getattr(module, f"bias_ih_l{k - 1}").grad
        if cell == "gru":
            grads[layer_key("bhn", k)] = getattr(module, f"bias_hh_l{k - 1}").grad[2 * hidden :]
    for k in head_layers:
        grads[k], grads["b" + k[1:]] = weights[k].grad, biases[k].grad
    return float(loss.detach()), {k: v.numpy() for k, v in grads.items()}


@pytest.mark.parametrize("layers", (1, 2))
@pytest.mark.parametrize("cell", CELLS)
def test_loss_and_every_gradient_match_pytorch_autograd(cell, layers):
    torch = pytest.importorskip("torch")
    model, params, (x, y) = small_problem(cell, seed=3, steps=7, layers=layers)
    loss, grads = model.loss_and_grads(params, (x, y))
    ref_loss, ref_grads = _torch_reference(torch, cell, params, x, y, layers)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    assert set(ref_grads) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(g, ref_grads[name], rtol=1e-9, atol=1e-12, err_msg=name)
