"""W3 baseline: RNN, LSTM and GRU classifiers as a typical course solution writes them.

float64, one weight matrix per gate, a Python loop over the time steps forward and back (BPTT),
caches kept as lists of per-step arrays, every intermediate a fresh array. Sequences x (B, T, I);
the last hidden state h_T feeds the MLP head a = relu(h_T V1 + c1), p = softmax(a V2 + c2),
J = -1/B sum log p[y]. Cells (s = sigmoid, * element-wise):

    rnn:  h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    lstm: i, f, o = s(x_t Wx. + h_{t-1} Wh. + b.), g = tanh(...); c_t = f c_{t-1} + i g; h_t = o tanh(c_t)
    gru:  r, z = s(x_t Wx. + h_{t-1} Wh. + b.); n = tanh(x_t Wxn + bn + r * (h_{t-1} Whn + bhn));
          h_t = (1 - z) n + z h_{t-1}

Backward follows the chain rule step by step from t = T down to t = 1 (dh_{t-1} collects every path).
"""

from __future__ import annotations

import numpy as np

from bench.baseline_sgd import BaselineRunner

GATE_NAMES = {"rnn": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def _affine(p: dict[str, np.ndarray], k: str, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    return x @ p["Wx" + k] + h @ p["Wh" + k] + p["b" + k]


def _step(cell: str, p: dict[str, np.ndarray], x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple:
    """One forward step -> (h_t, c_t, cache)."""
    if cell == "rnn":
        h_new = np.tanh(_affine(p, "", x, h))
        return h_new, c, {"x": x, "h": h, "h_new": h_new}
    if cell == "lstm":
        i, f = sigmoid(_affine(p, "i", x, h)), sigmoid(_affine(p, "f", x, h))
        g, o = np.tanh(_affine(p, "g", x, h)), sigmoid(_affine(p, "o", x, h))
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        return o * tc, c_new, {"x": x, "h": h, "c": c, "i": i, "f": f, "g": g, "o": o, "tc": tc}
    r, z = sigmoid(_affine(p, "r", x, h)), sigmoid(_affine(p, "z", x, h))
    hn = h @ p["Whn"] + p["bhn"]
    n = np.tanh(x @ p["Wxn"] + p["bn"] + r * hn)
    return (1 - z) * n + z * h, c, {"x": x, "h": h, "r": r, "z": z, "n": n, "hn": hn}


def _step_back(cell: str, p: dict, g: dict, cache: dict, dh: np.ndarray, dc: np.ndarray) -> tuple:
    """Accumulate one step's weight gradients into g; return (dh_{t-1}, dc_{t-1})."""
    x, h = cache["x"], cache["h"]
    if cell == "rnn":
        das = {"": dh * (1 - cache["h_new"] ** 2)}
        dh_prev = 0
    elif cell == "lstm":
        i, f, gg, o, tc = cache["i"], cache["f"], cache["g"], cache["o"], cache["tc"]
        dc = dc + dh * o * (1 - tc**2)
        das = {"i": dc * gg * i * (1 - i), "f": dc * cache["c"] * f * (1 - f), "g": dc * i * (1 - gg**2),
               "o": dh * tc * o * (1 - o)}
        dc = dc * f
        dh_prev = 0
    else:
        r, z, n, hn = cache["r"], cache["z"], cache["n"], cache["hn"]
        dan = dh * (1 - z) * (1 - n**2)
        dhn = dan * r
        g["Wxn"] = g["Wxn"] + x.T @ dan
        g["bn"] = g["bn"] + np.sum(dan, axis=0)
        g["Whn"] = g["Whn"] + h.T @ dhn
        g["bhn"] = g["bhn"] + np.sum(dhn, axis=0)
        das = {"r": dan * hn * r * (1 - r), "z": dh * (h - n) * z * (1 - z)}
        dh_prev = dh * z + dhn @ p["Whn"].T
    for k, da in das.items():
        g["Wx" + k] = g["Wx" + k] + x.T @ da
        g["Wh" + k] = g["Wh" + k] + h.T @ da
        g["b" + k] = g["b" + k] + np.sum(da, axis=0)
        dh_prev = dh_prev + da @ p["Wh" + k].T
    return dh_prev, dc


def cost(cell: str, p: dict[str, np.ndarray], batch: tuple[np.ndarray, ...]) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy of batch (x (B, T, I), y (B,) labels) and the gradient of every parameter."""
    x, y = batch
    n, steps, _ = x.shape
    hidden = p["Wh" + GATE_NAMES[cell][0]].shape[0]
    h = np.zeros((n, hidden))
    c = np.zeros((n, hidden))
    caches = []
    for t in range(steps):
        h, c, cache = _step(cell, p, x[:, t, :], h, c)
        caches.append(cache)
    a1 = h @ p["V1"] + p["c1"]
    r1 = np.maximum(a1, 0)
    z = r1 @ p["V2"] + p["c2"]
    z = z - np.max(z, axis=1, keepdims=True)
    prob = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    loss = -np.mean(np.log(prob[np.arange(n), y]))
    onehot = np.zeros_like(prob)
    onehot[np.arange(n), y] = 1
    dz = (prob - onehot) / n
    da1 = (dz @ p["V2"].T) * (a1 > 0)
    g = {name: np.zeros_like(w) for name, w in p.items()}
    g["V2"], g["c2"], g["V1"], g["c1"] = r1.T @ dz, np.sum(dz, axis=0), h.T @ da1, np.sum(da1, axis=0)
    dh, dc = da1 @ p["V1"].T, np.zeros((n, hidden))
    for t in reversed(range(steps)):
        dh, dc = _step_back(cell, p, g, caches[t], dh, dc)
    return float(loss), g


def from_reference(cell: str, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Split the packed reference Wx, Wh, b into one matrix per gate; head W1, b1, W2, b2 -> V1, c1, V2, c2."""
    gates = GATE_NAMES[cell]
    hidden = weights["Wh"].shape[0]
    params = {}
    for j, k in enumerate(gates):
        cols = slice(j * hidden, (j + 1) * hidden)
        params["Wx" + k], params["Wh" + k] = weights["Wx"][:, cols].copy(), weights["Wh"][:, cols].copy()
        params["b" + k] = weights["b"][cols].copy()
    if cell == "gru":
        params["bhn"] = weights["bhn"].copy()
    params.update(V1=weights["W1"], c1=weights["b1"], V2=weights["W2"], c2=weights["b2"])
    return {name: np.asarray(w, dtype=np.float64) for name, w in params.items()}


def build(work, weights: dict[str, np.ndarray], order: np.ndarray) -> BaselineRunner:
    """Runner for W3 with cell work.family."""
    cell = work.family
    return BaselineRunner(lambda p, batch: cost(cell, p, batch), from_reference(cell, weights), work.data, order,
                          work.batch_size, work.lr, work.momentum)
