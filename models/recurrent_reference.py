"""Reference RNN, LSTM and GRU written the obvious way, to check the fast layers of models.recurrent against.

float64, one matrix per gate sliced out of the packed parameters, a Python loop over the steps forward
and back, a fresh array for every intermediate, the cache a list of per-step dicts. The parameters are
those of models.recurrent: Wx (D, G H), Wh (H, G H), b (G H,) with the G gate blocks of width H side by
side, and bhn (H,) for the GRU. x is time-major (T, N, D); forward returns h_1 .. h_T (T, N, H), h_0 =
c_0 = 0. Backward takes dout (T, N, H), the loss gradient for every step's output, and returns dx
(T, N, D) with the parameter gradients. s = logistic sigmoid, * element-wise, Wx_k / Wh_k / b_k = gate
block k; going back from t = T, dh_t = dout_t + (the gradient from step t+1, 0 at t = T), dc_T = 0.

RNN (G = 1):
    forward   h_t = tanh(x_t Wx + h_{t-1} Wh + b)
    BPTT      da_t = dh_t * (1 - h_t^2),   from step t: da_t Wh^T to dh_{t-1}

LSTM (G = 4, blocks i, f, g, o):
    forward   i, f, o = s(x_t Wx_k + h_{t-1} Wh_k + b_k),   g = tanh(x_t Wx_g + h_{t-1} Wh_g + b_g)
              c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    BPTT      dc_t += dh_t * o * (1 - tanh(c_t)^2)
              da_i = dc_t * g * i (1 - i),   da_f = dc_t * c_{t-1} * f (1 - f)
              da_g = dc_t * i * (1 - g^2),   da_o = dh_t * tanh(c_t) * o (1 - o)
              dc_{t-1} = dc_t * f,   from step t: sum_k da_k Wh_k^T to dh_{t-1}

GRU (G = 3, blocks r, z, n; the reset r multiplies the recurrent product, as in cuDNN and PyTorch):
    forward   r = s(x_t Wx_r + h_{t-1} Wh_r + b_r),   z = s(x_t Wx_z + h_{t-1} Wh_z + b_z)
              q = h_{t-1} Wh_n + bhn,   n = tanh(x_t Wx_n + b_n + r * q)
              h_t = (1 - z) * n + z * h_{t-1}
    BPTT      da_n = dh_t * (1 - z) * (1 - n^2),   dq = da_n * r
              da_r = da_n * q * r (1 - r),   da_z = dh_t * (h_{t-1} - n) * z (1 - z)
              from step t: dh_t * z + da_r Wh_r^T + da_z Wh_z^T + dq Wh_n^T to dh_{t-1}

Input and weight gradients, every gate block k (for the GRU's n block, Wh_n and bhn get dq instead of da_n):
    dx_t = sum_k da_k Wx_k^T
    dWx_k = sum_t x_t^T da_k,   dWh_k = sum_t h_{t-1}^T da_k,   db_k = sum_t sum_rows da_k

ReferenceClassifier stacks these layers under models.sequence_classifier's parameter names, as plainly.
"""

from __future__ import annotations

import numpy as np

from models.contract import Batch, Params
from models.mlp import MLPHead
from models.recurrent import layer_key

Block = dict[str, np.ndarray]  # one gate's {"Wx": (D, H), "Wh": (H, H), "b": (H,)}
Cache = list[dict[str, np.ndarray]]  # one dict of (N, H) / (N, D) arrays per step


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def split_gates(params: Params, gates: int) -> list[Block]:
    """The packed Wx (D, G H), Wh (H, G H), b (G H,) -> G float64 blocks Wx_k (D, H), Wh_k (H, H), b_k (H,)."""
    pieces = {name: np.split(np.asarray(params[name], dtype=np.float64), gates, axis=-1) for name in ("Wx", "Wh", "b")}
    return [{name: pieces[name][k] for name in pieces} for k in range(gates)]


def join_gates(blocks: list[Block]) -> Params:
    """Inverse of split_gates: G blocks -> packed Wx (D, G H), Wh (H, G H), b (G H,)."""
    return {name: np.concatenate([block[name] for block in blocks], axis=-1) for name in ("Wx", "Wh", "b")}


def zero_grads(blocks: list[Block]) -> list[Block]:
    return [{name: np.zeros_like(array) for name, array in block.items()} for block in blocks]


def affine(block: Block, x_t: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
    """x_t Wx_k + h_{t-1} Wh_k + b_k: x_t (N, D), h_prev (N, H) -> (N, H)."""
    return x_t @ block["Wx"] + h_prev @ block["Wh"] + block["b"]


def accumulate(grad: Block, x_t: np.ndarray, h_prev: np.ndarray, da: np.ndarray) -> None:
    """Add one step's dWx_k += x_t^T da, dWh_k += h_{t-1}^T da, db_k += sum_rows da; da (N, H)."""
    grad["Wx"] += x_t.T @ da
    grad["Wh"] += h_prev.T @ da
    grad["b"] += da.sum(axis=0)


def initial_state(x: np.ndarray, params: Params) -> np.ndarray:
    """h_0 = 0 (N, H) for x (T, N, D)."""
    return np.zeros((x.shape[1], params["Wh"].shape[0]))


def outputs(cache: Cache) -> np.ndarray:
    """h_1 .. h_T (T, N, H) from the per-step cache."""
    return np.stack([step["h"] for step in cache])


def backward_steps(cache: Cache, dout: np.ndarray) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """(step t's cache, dout_t (N, H)) from t = T down to 1."""
    return list(zip(reversed(cache), np.asarray(dout, dtype=np.float64)[::-1], strict=True))


class ReferenceRNN:
    name = "rnn"
    param_names = ("Wx", "Wh", "b")

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the per-step cache."""
        (block,) = split_gates(params, 1)
        h = initial_state(x, params)
        cache = []
        for x_t in np.asarray(x, dtype=np.float64):
            h_prev = h
            h = np.tanh(affine(block, x_t, h_prev))
            cache.append({"x": x_t, "h_prev": h_prev, "h": h})
        return outputs(cache), cache

    def backward(self, params: Params, cache: Cache, dout: np.ndarray) -> tuple[np.ndarray, Params]:
        """dJ/dh_t for every step, dout (T, N, H) -> dJ/dx (T, N, D) and dJ/dWx, dJ/dWh, dJ/db."""
        (block,) = split_gates(params, 1)
        (grad,) = zero_grads([block])
        dh_next = np.zeros_like(cache[0]["h"])  # what reaches h_t from step t+1
        dx = []
        for step, dout_t in backward_steps(cache, dout):
            dh = dout_t + dh_next
            da = dh * (1 - step["h"] ** 2)
            accumulate(grad, step["x"], step["h_prev"], da)
            dx.append(da @ block["Wx"].T)
            dh_next = da @ block["Wh"].T
        return np.stack(dx[::-1]), join_gates([grad])


class ReferenceLSTM:
    name = "lstm"
    param_names = ("Wx", "Wh", "b")

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the per-step cache."""
        block_i, block_f, block_g, block_o = split_gates(params, 4)
        h = initial_state(x, params)
        c = np.zeros_like(h)
        cache = []
        for x_t in np.asarray(x, dtype=np.float64):
            h_prev, c_prev = h, c
            i = sigmoid(affine(block_i, x_t, h_prev))
            f = sigmoid(affine(block_f, x_t, h_prev))
            g = np.tanh(affine(block_g, x_t, h_prev))
            o = sigmoid(affine(block_o, x_t, h_prev))
            c = f * c_prev + i * g
            tanh_c = np.tanh(c)
            h = o * tanh_c
            cache.append(
                {"x": x_t, "h_prev": h_prev, "c_prev": c_prev, "i": i, "f": f, "g": g, "o": o, "tanh_c": tanh_c,
                 "h": h}
            )
        return outputs(cache), cache

    def backward(self, params: Params, cache: Cache, dout: np.ndarray) -> tuple[np.ndarray, Params]:
        """dJ/dh_t for every step, dout (T, N, H) -> dJ/dx (T, N, D) and dJ/dWx, dJ/dWh, dJ/db."""
        blocks = split_gates(params, 4)
        grads = zero_grads(blocks)
        dh_next = np.zeros_like(cache[0]["h"])
        dc = np.zeros_like(dh_next)
        dx = []
        for step, dout_t in backward_steps(cache, dout):
            dh = dout_t + dh_next
            i, f, g, o, tanh_c = step["i"], step["f"], step["g"], step["o"], step["tanh_c"]
            dc = dc + dh * o * (1 - tanh_c**2)
            da_i = dc * g * i * (1 - i)
            da_f = dc * step["c_prev"] * f * (1 - f)
            da_g = dc * i * (1 - g**2)
            da_o = dh * tanh_c * o * (1 - o)
            das = (da_i, da_f, da_g, da_o)
            for grad, da in zip(grads, das, strict=True):
                accumulate(grad, step["x"], step["h_prev"], da)
            dc = dc * f
            dx.append(sum(da @ block["Wx"].T for block, da in zip(blocks, das, strict=True)))
            dh_next = sum(da @ block["Wh"].T for block, da in zip(blocks, das, strict=True))
        return np.stack(dx[::-1]), join_gates(grads)


class ReferenceGRU:
    name = "gru"
    param_names = ("Wx", "Wh", "b", "bhn")

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the per-step cache."""
        block_r, block_z, block_n = split_gates(params, 3)
        bhn = np.asarray(params["bhn"], dtype=np.float64)
        h = initial_state(x, params)
        cache = []
        for x_t in np.asarray(x, dtype=np.float64):
            h_prev = h
            r = sigmoid(affine(block_r, x_t, h_prev))
            z = sigmoid(affine(block_z, x_t, h_prev))
            q = h_prev @ block_n["Wh"] + bhn
            n = np.tanh(x_t @ block_n["Wx"] + block_n["b"] + r * q)
            h = (1 - z) * n + z * h_prev
            cache.append({"x": x_t, "h_prev": h_prev, "r": r, "z": z, "q": q, "n": n, "h": h})
        return outputs(cache), cache

    def backward(self, params: Params, cache: Cache, dout: np.ndarray) -> tuple[np.ndarray, Params]:
        """dJ/dh_t for every step, dout (T, N, H) -> dJ/dx (T, N, D) and dJ/dWx, dJ/dWh, dJ/db, dJ/dbhn."""
        block_r, block_z, block_n = split_gates(params, 3)
        grad_r, grad_z, grad_n = zero_grads([block_r, block_z, block_n])
        dbhn = np.zeros(block_n["b"].shape)
        dh_next = np.zeros_like(cache[0]["h"])
        dx = []
        for step, dout_t in backward_steps(cache, dout):
            dh = dout_t + dh_next
            x_t, h_prev, r, z, q, n = (step[k] for k in ("x", "h_prev", "r", "z", "q", "n"))
            da_n = dh * (1 - z) * (1 - n**2)
            dq = da_n * r
            da_r = da_n * q * r * (1 - r)
            da_z = dh * (h_prev - n) * z * (1 - z)
            accumulate(grad_r, x_t, h_prev, da_r)
            accumulate(grad_z, x_t, h_prev, da_z)
            grad_n["Wx"] += x_t.T @ da_n
            grad_n["b"] += da_n.sum(axis=0)
            grad_n["Wh"] += h_prev.T @ dq
            dbhn += dq.sum(axis=0)
            dx.append(da_r @ block_r["Wx"].T + da_z @ block_z["Wx"].T + da_n @ block_n["Wx"].T)
            dh_next = dh * z + da_r @ block_r["Wh"].T + da_z @ block_z["Wh"].T + dq @ block_n["Wh"].T
        return np.stack(dx[::-1]), {**join_gates([grad_r, grad_z, grad_n]), "bhn": dbhn}


REFERENCE_LAYERS = {layer.name: layer for layer in (ReferenceRNN(), ReferenceLSTM(), ReferenceGRU())}


class ReferenceClassifier:
    """models.sequence_classifier.RecurrentClassifier written plainly, float64: `layers` reference layers of
    `cell` (layer k's parameters named by models.recurrent.layer_key: Wx, Wx_2, ...), each reading the output
    sequence of the one below, and `head` on the top layer's h_T. batch = (x (N, T, D), y (N,))."""

    def __init__(self, cell: str, layers: int, head: MLPHead) -> None:
        self.layer, self.layers, self.head = REFERENCE_LAYERS[cell], layers, head

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        """Mean cross-entropy and its gradient for every parameter."""
        x, y = batch
        names = self.layer.param_names
        per_layer = [{name: params[layer_key(name, k)] for name in names} for k in range(1, self.layers + 1)]
        sequence = np.swapaxes(np.asarray(x, dtype=np.float64), 0, 1)  # (T, N, D)
        caches = []
        for layer_params in per_layer:
            sequence, cache = self.layer.forward(layer_params, sequence)
            caches.append(cache)
        loss, grads, dh_last, _ = self.head.loss_and_grads(params, sequence[-1], y)
        dout = np.zeros_like(sequence)
        dout[-1] = dh_last
        for k in range(self.layers, 0, -1):
            dout, layer_grads = self.layer.backward(per_layer[k - 1], caches[k - 1], dout)  # dout of layer k - 1
            grads.update({layer_key(name, k): grad for name, grad in layer_grads.items()})
        return loss, grads
