"""Recurrent layers (vanilla tanh RNN, LSTM, GRU) with full back-propagation through time.

All three read a time-major sequence x (T, N, D) and return every step's hidden state h_1 .. h_T as one
(T, N, H) array; h_0 = 0 (and c_0 = 0). Backward takes dout (T, N, H), the loss gradient for every step's
output, and returns the parameter gradients and, on request, dx (T, N, D) for the input sequence, so that
layers stack: layer k + 1 reads layer k's output, and its dx is layer k's dout. A many-to-one model passes
dout = 0 except dout[T-1] = dJ/dh_T. Parameters, with the G gate blocks of width H packed side by side so
that each time step needs ONE matrix product h_{t-1} Wh:

    Wx (D, G H), Wh (H, G H), b (G H,)          G = 1 (rnn), 4 (lstm: i, f, g, o), 3 (gru: r, z, n)
    bhn (H,)                                    gru only: the recurrent bias inside the reset product

Speed (this is the hot loop of Q3, 150 steps per batch):

- the input enters the same GEMM as the state: the stacked row [h_{t-1}, x_t, 1] (N, H + D + 1) times
  [Wh; Wx; b] (no separate projection buffer, no per-step addition);
- buffers are time-major, so the slice of step t is contiguous, and preallocated in a `Workspace`
  that is reused from batch to batch; every per-step operation writes with `out=`;
- the sigmoid gates use s(a) = (1 + tanh(a / 2)) / 2: the gate columns of Wx, Wh and b are scaled by
  1/2 once per batch, so ONE tanh covers every gate of a step;
- each step's gate activations are stored gate-major, (G, N, H), so that the per-gate element-wise
  operations run on contiguous arrays (column slices of an (N, G H) array cost ~3x more); the forward
  GEMM writes them there directly, as one broadcast product [h_{t-1}, x_t, 1] (N, K) @ (G, K, H) (G
  products of width H: each entry is the same sum as in one product of width G H, bit for bit with the
  bundled OpenBLAS, and about 30 % faster at N = 32, H = 128); backward, one strided copy per step moves
  the deltas to the (N, G H) layout of its GEMMs;
- BPTT runs from t = T down to 1 with dh_t = dout_t + (the gradient reaching h_t from step t + 1), stores
  the pre-activation deltas dA_t of every step and forms d[Wh; Wx; b] = sum_t [h_{t-1}, x_t, 1]^T dA_t
  as ONE product of the stacked (T N, H + D + 1)^T @ (T N, G H) arrays after the loop, and dx_t =
  dA_t Wx^T for every step as ONE product (T N, G H) @ (G H, D) (skipped unless `input_grad`: the first
  layer's input is the data). Adding dout_t = 0 changes no bit (a + 0 = a), so a one-layer model's
  results do not depend on whether it is one layer of a stack;
- the RNN's 1 - h_t^2 and the GRU's gate slopes, which do not depend on the incoming gradient, are formed
  for every step at once at the start of backward: fewer, larger NumPy calls (measured faster; the LSTM's
  equivalents are faster step by step, while their operands are in cache), the same operations in the
  same order, so bit for bit the values of the step-by-step form; a forward pass for evaluation skips them;
- `flush_tiny` zeroes deltas that decay towards the float32 denormal range (~1e-38), where every
  arithmetic operation becomes many times slower.

Buffers: each layer object owns a `Workspace`, so two layers (of a stack, or of two worker threads) never
share a buffer. The output sequence and the cache returned by `forward` are views into it: they stay
valid until the next `forward` of the same layer object (`backward` only reads them; its results are
fresh arrays). `LAYERS` maps a cell name to its layer class (`LAYERS[cell].gates` is G; instantiate
one object per layer).

Known traps avoided (each is covered by the finite-difference and PyTorch tests): the transposes in
dh_{t-1} = dA_t Wh^T and dx_t = dA_t Wx^T, the time index (dA_t pairs with h_{t-1}, not h_t), the first
step (t = 1 is back-propagated into Wx and b even though h_0 = 0 contributes nothing to dWh) and dout_t
entering dh_t at every step (not only dh_T).

`models/recurrent_reference.py` computes the same thing the obvious way; tests/unit/test_recurrent_reference.py
holds the two equal.
"""

from __future__ import annotations

import math

import numpy as np

from models.contract import Params
from models.init import uniform_glorot

RECURRENT_INITS = ("glorot", "orthogonal", "identity")


class Workspace:
    """Named scratch arrays, reused across calls: each name keeps one flat buffer that only grows, and a request
    gets a contiguous view of its first entries. Training batches (32 rows) and evaluation chunks (256) take turns
    every epoch; allocating the step buffers afresh at each change of shape cost the LSTM ~0.3 s per epoch of
    first-touch page faults (its 256-row buffers are ~220 MB)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


def flush_tiny(a: np.ndarray) -> None:
    """Set entries below ~sqrt(tiny) * 2^-24 in magnitude to exactly 0, in place, in two operations.

    Adding then subtracting c = sqrt(smallest normal) rounds every |a| < ulp(c) / 2 to 0 (1e-26 in
    float32, 1e-170 in float64) and changes larger entries by at most that much: far below anything
    that can matter next to gradients of order 1e-8 and up, and it keeps deltas that decay step after
    step from reaching the denormal range.
    """
    c = np.sqrt(np.finfo(a.dtype).tiny).astype(a.dtype)
    a += c
    a -= c


def recurrent_matrix(
    rng: np.random.Generator, hidden: int, gates: int, init: str, gain: float, dtype: type
) -> np.ndarray:
    """Wh (H, G H): each gate's (H, H) block Xavier-uniform, orthogonal or the identity, times `gain`."""
    blocks = []
    for _ in range(gates):
        if init == "glorot":
            block = uniform_glorot(rng, (hidden, hidden), hidden, hidden)
        elif init == "orthogonal":
            q, r = np.linalg.qr(rng.standard_normal((hidden, hidden)))
            block = q * np.sign(np.diag(r))  # Haar-uniform orthogonal matrix
        elif init == "identity":
            block = np.eye(hidden)
        else:
            raise ValueError(f"unknown recurrent init {init!r}; expected one of {RECURRENT_INITS}")
        blocks.append(gain * block)
    return np.concatenate(blocks, axis=1).astype(dtype)


def layer_key(name: str, layer: int) -> str:
    """A stack's name for parameter `name` of its layer `layer` (1-based): "Wx" in layer 1, "Wx_2" in layer 2, ..."""
    return name if layer == 1 else f"{name}_{layer}"


class _Layer:
    """What the three layers share: packed parameters, the stacked [h, x, 1] inputs and their gradient, dx.

    forward(params, x (T, N, D)) -> (h_1 .. h_T (T, N, H), cache)
    backward(params, cache, dout (T, N, H), input_grad=False) -> (dx (T, N, D) or None, gradients)

    One object per layer: it owns the Workspace its outputs and cache live in (see the module docstring).
    """

    name = ""
    gates = 1
    param_names: tuple[str, ...] = ("Wx", "Wh", "b")
    sigmoid_blocks: tuple[int, ...] = ()  # gate blocks that are sigmoids (scaled by 1/2, see module doc)

    def __init__(self) -> None:
        self.ws = Workspace()

    def init_params(
        self,
        rng: np.random.Generator,
        n_in: int,
        hidden: int,
        dtype: type,
        recurrent_init: str,
        recurrent_gain: float,
    ) -> Params:
        """Xavier-uniform Wx per gate block (fan_in = D, fan_out = H), Wh by `recurrent_init`, zero biases."""
        wx = np.concatenate([uniform_glorot(rng, (n_in, hidden), n_in, hidden) for _ in range(self.gates)], axis=1)
        params = {
            "Wx": wx.astype(dtype),
            "Wh": recurrent_matrix(rng, hidden, self.gates, recurrent_init, recurrent_gain, dtype),
            "b": np.zeros(self.gates * hidden, dtype=dtype),
        }
        return params

    def column_scale(self, hidden: int, dtype: np.dtype) -> np.ndarray:
        """(G H,) factors: 1/2 on the sigmoid gate blocks, 1 elsewhere."""
        scale = np.ones((self.gates, hidden), dtype=dtype)
        scale[list(self.sigmoid_blocks)] = 0.5
        return scale.reshape(-1)

    def by_gate(self, w: np.ndarray) -> np.ndarray:
        """(K, G H) -> contiguous (G, K, H): one (K, H) matrix per gate block, so that the broadcast matmul
        (N, K) @ (G, K, H) writes a step's pre-activations straight into its gate-major (G, N, H) buffer."""
        return np.ascontiguousarray(w.reshape(len(w), self.gates, -1).transpose(1, 0, 2))

    def stacked_inputs(self, x: np.ndarray, hidden: int) -> np.ndarray:
        """stacked (T+1, N, H + D + 1) with stacked[t-1] = [h_{t-1}, x_t, 1], so that one GEMM
        stacked[t-1] @ [Wh; Wx; b] gives every gate's pre-activation at step t, and stacked[:T] gives every
        weight gradient at once. Row stacked[0] holds h_0 = 0; the layer writes h_t into stacked[t][:, :H],
        so stacked[1:, :, :H] is the output sequence (T, N, H)."""
        t_steps, n, d_in = x.shape
        stacked = self.ws.get("stacked", (t_steps + 1, n, hidden + d_in + 1), x.dtype)
        stacked[0, :, :hidden] = 0
        stacked[:t_steps, :, hidden:-1] = x
        stacked[:t_steps, :, -1] = 1
        stacked[t_steps, :, hidden:] = 0
        return stacked

    @staticmethod
    def stacked_grad(stacked: np.ndarray, dpre: np.ndarray) -> np.ndarray:
        """d[Wh; Wx; b] = sum_t [h_{t-1}, x_t, 1]^T dA_t as ONE GEMM: stacked (T+1, N, K) and the deltas
        dA_t in dpre (T, N, G H) -> (K, G H)."""
        t_steps = len(dpre)
        return stacked[:t_steps].reshape(-1, stacked.shape[-1]).T @ dpre.reshape(-1, dpre.shape[-1])

    @staticmethod
    def input_gradient(dpre: np.ndarray, wx: np.ndarray) -> np.ndarray:
        """dx_t = dA_t Wx^T for every step as ONE GEMM: the x-part deltas dpre (T, N, G H) and wx (D, G H) in
        the same column order -> dx (T, N, D)."""
        t_steps, n, _ = dpre.shape
        return (dpre.reshape(t_steps * n, -1) @ wx.T).reshape(t_steps, n, -1)


class RNNLayer(_Layer):
    """Vanilla tanh RNN.

    Forward, t = 1 .. T:

        a_t = x_t Wx + h_{t-1} Wh + b,   h_t = tanh(a_t)

    BPTT, from t = T down to 1, with dh_T = dout_T:

        dA_t = dh_t * (1 - h_t^2)
        dh_{t-1} = dout_{t-1} + dA_t Wh^T,   dx_t = dA_t Wx^T
        dWh = sum_t h_{t-1}^T dA_t,   dWx = sum_t x_t^T dA_t,   db = sum_t sum_m dA_t
    """

    name = "rnn"
    gates = 1

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, dict]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the cache for `backward`."""
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        weights = np.concatenate([params["Wh"], params["Wx"], params["b"][None]])  # [Wh; Wx; b]
        stacked = self.stacked_inputs(x, hidden)
        preact = self.ws.get("preact", (n, hidden), x.dtype)  # a_t
        for t in range(1, t_steps + 1):
            np.matmul(stacked[t - 1], weights, out=preact)
            np.tanh(preact, out=stacked[t, :, :hidden])  # h_t
        return stacked[1:, :, :hidden], {"stacked": stacked}

    def backward(
        self, params: Params, cache: dict, dout: np.ndarray, input_grad: bool = False
    ) -> tuple[np.ndarray | None, Params]:
        """dout (T, N, H) -> dx (T, N, D) (None unless `input_grad`) and the gradients of Wx, Wh, b."""
        stacked = cache["stacked"]
        t_steps, n, hidden = dout.shape
        wh_transposed = np.ascontiguousarray(params["Wh"].T)
        dpre = self.ws.get("dpre", (t_steps, n, hidden), stacked.dtype)  # 1 - h_t^2, then dA_t, of every step
        outputs = stacked[1:, :, :hidden]
        np.multiply(outputs, outputs, out=dpre)
        np.subtract(1, dpre, out=dpre)
        dh_t = dout[-1].copy()
        for t in range(t_steps, 0, -1):
            dpre_t = dpre[t - 1]
            dpre_t *= dh_t
            if t > 1:
                np.matmul(dpre_t, wh_transposed, out=dh_t)
                dh_t += dout[t - 2]  # now dh_{t-1}
                if t % 4 == 0:
                    flush_tiny(dh_t)
        dweights = self.stacked_grad(stacked, dpre)
        dx = self.input_gradient(dpre, params["Wx"]) if input_grad else None
        return dx, {"Wh": dweights[:hidden], "Wx": dweights[hidden:-1], "b": dweights[-1]}


class LSTMLayer(_Layer):
    """LSTM, gate blocks packed in the order i, f, g, o (s = logistic sigmoid, * element-wise):

        [a_i, a_f, a_g, a_o] = x_t Wx + h_{t-1} Wh + b
        i = s(a_i),  f = s(a_f),  g = tanh(a_g),  o = s(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    BPTT, with dh_t = dout_t + dA_{t+1} Wh^T (dh_T = dout_T), and dc_t carried from step t+1 (dc_T = 0):

        dc_t += dh_t * o * (1 - tanh(c_t)^2)
        dA_t = [dc_t * g * i (1 - i),  dc_t * c_{t-1} * f (1 - f),  dc_t * i * (1 - g^2),
                dh_t * tanh(c_t) * o (1 - o)]
        dc_{t-1} = dc_t * f,   dx_t = dA_t Wx^T
        dWh = sum_t h_{t-1}^T dA_t,   dWx = sum_t x_t^T dA_t,   db = sum_t sum_m dA_t

    Internally the blocks are reordered to i, f, o, g (sigmoids first) and each step's gates are kept
    gate-major, (4, N, H), so every per-gate operation runs on a contiguous array. Initialisation adds
    1 to the forget-gate bias (keeps c_t from being forgotten early in training).
    """

    name = "lstm"
    gates = 4
    sigmoid_blocks = (0, 1, 2)  # in the internal order i, f, o, g
    # internal block k (i, f, o, g) is parameter block PARAM_TO_INTERNAL_BLOCKS[k] (i, f, g, o); a swap of
    # g and o, so the same indexing also maps internal back to parameter order
    PARAM_TO_INTERNAL_BLOCKS = [0, 1, 3, 2]

    def init_params(self, rng, n_in, hidden, dtype, recurrent_init, recurrent_gain):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["b"][hidden : 2 * hidden] = 1.0
        return params

    def reorder(self, w: np.ndarray) -> np.ndarray:
        """Swap the g and o column blocks of a (..., 4 H) array (parameter order <-> internal order)."""
        hidden = w.shape[-1] // 4
        return w.reshape(*w.shape[:-1], 4, hidden)[..., self.PARAM_TO_INTERNAL_BLOCKS, :].reshape(w.shape)

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, dict]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the cache for `backward`."""
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        dtype = x.dtype
        ws = self.ws
        scale = self.column_scale(hidden, dtype)  # u = tanh(scale * a): a sigmoid is (1 + u) / 2
        weights = self.reorder(np.concatenate([params["Wh"], params["Wx"], params["b"][None]])) * scale
        weights = self.by_gate(weights)  # (4, K, H)
        stacked = self.stacked_inputs(x, hidden)
        gates = ws.get("gates", (t_steps, 4, n, hidden), dtype)  # i, f, o, g per step
        slopes = ws.get("slopes", (t_steps, 4, n, hidden), dtype)  # each gate's s (1 - s), and 1 - g^2
        cell_states = ws.get("cell_states", (t_steps + 1, n, hidden), dtype)  # c_0 .. c_T
        tanh_c = ws.get("tanh_c", (t_steps, n, hidden), dtype)
        gated_input = ws.get("gated_input", (n, hidden), dtype)  # i * g
        cell_states[0] = 0
        for t in range(1, t_steps + 1):
            gates_t, slopes_t = gates[t - 1], slopes[t - 1]
            np.matmul(stacked[t - 1], weights, out=gates_t)  # scaled a_t, internal block order
            np.tanh(gates_t, out=gates_t)
            sigmoids = gates_t[:3]
            sigmoids *= 0.5
            sigmoids += 0.5
            np.multiply(gates_t, gates_t, out=slopes_t)
            np.subtract(sigmoids, slopes_t[:3], out=slopes_t[:3])
            np.subtract(1, slopes_t[3], out=slopes_t[3])
            i, f, o, g = gates_t
            np.multiply(f, cell_states[t - 1], out=cell_states[t])
            np.multiply(i, g, out=gated_input)
            cell_states[t] += gated_input
            np.tanh(cell_states[t], out=tanh_c[t - 1])
            np.multiply(o, tanh_c[t - 1], out=stacked[t, :, :hidden])  # h_t
        cache = {"stacked": stacked, "cell_states": cell_states, "tanh_c": tanh_c, "gates": gates, "slopes": slopes}
        return stacked[1:, :, :hidden], cache

    def backward(
        self, params: Params, cache: dict, dout: np.ndarray, input_grad: bool = False
    ) -> tuple[np.ndarray | None, Params]:
        """dout (T, N, H) -> dx (T, N, D) (None unless `input_grad`) and the gradients of Wx, Wh, b."""
        stacked, cell_states, tanh_c, gates, slopes = (
            cache[k] for k in ("stacked", "cell_states", "tanh_c", "gates", "slopes")
        )
        t_steps, n, hidden = dout.shape
        dtype = stacked.dtype
        ws = self.ws
        wh_transposed = np.ascontiguousarray(self.reorder(params["Wh"]).T)
        dpre = ws.get("dpre", (t_steps, n, 4 * hidden), dtype)  # dA_t, internal order, stacked for the weight GEMM
        dpre_gates = ws.get("dpre_gates", (4, n, hidden), dtype)  # this step's dA_t, gate-major
        dc_from_h = ws.get("dc_from_h", (n, hidden), dtype)  # dh_t * o * (1 - tanh(c_t)^2)
        dh_t = dout[-1].copy()
        dc_t = np.zeros_like(dh_t)
        for t in range(t_steps, 0, -1):
            tanh_c_t = tanh_c[t - 1]
            i, f, o, g = gates[t - 1]
            np.multiply(tanh_c_t, tanh_c_t, out=dc_from_h)
            np.subtract(1, dc_from_h, out=dc_from_h)
            dc_from_h *= o
            dc_from_h *= dh_t
            dc_t += dc_from_h
            np.multiply(dc_t, g, out=dpre_gates[0])
            np.multiply(dc_t, cell_states[t - 1], out=dpre_gates[1])
            np.multiply(dh_t, tanh_c_t, out=dpre_gates[2])
            np.multiply(dc_t, i, out=dpre_gates[3])
            dpre_gates *= slopes[t - 1]
            np.copyto(dpre[t - 1].reshape(n, 4, hidden), dpre_gates.transpose(1, 0, 2))
            if t > 1:
                dc_t *= f  # becomes dc_{t-1}
                np.matmul(dpre[t - 1], wh_transposed, out=dh_t)
                dh_t += dout[t - 2]  # now dh_{t-1}
                if t % 4 == 0:
                    flush_tiny(dh_t)
                    flush_tiny(dc_t)
        dweights = self.reorder(self.stacked_grad(stacked, dpre))
        dx = self.input_gradient(dpre, self.reorder(params["Wx"])) if input_grad else None
        return dx, {"Wh": dweights[:hidden], "Wx": dweights[hidden:-1], "b": dweights[-1]}


class GRULayer(_Layer):
    """GRU, gate blocks packed in the order r, z, n, reset applied after the product (as in cuDNN and
    PyTorch), so that one GEMM h_{t-1} Wh per step serves all three blocks:

        [a_r, a_z, a_n] = x_t Wx + b,   [m_r, m_z, m_n] = h_{t-1} Wh
        r = s(a_r + m_r),   z = s(a_z + m_z)
        q = m_n + bhn
        n = tanh(a_n + r * q)
        h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

    BPTT, with dh_t = dout_t + the sum of both paths from step t+1 (dh_T = dout_T):

        dn_pre = dh_t * (1 - z) * (1 - n^2)            (gradient at a_n + r q)
        dz_pre = dh_t * (h_{t-1} - n) * z (1 - z)
        dr_pre = dn_pre * q * r (1 - r)
        dM_t = [dr_pre, dz_pre, dn_pre * r]            (gradient at [a_r + m_r, a_z + m_z, q])
        dh_{t-1} = dout_{t-1} + dh_t * z + dM_t Wh^T,   dx_t = [dr_pre, dz_pre, dn_pre] Wx^T
        dWh = sum_t h_{t-1}^T dM_t,   dbhn = sum_t sum_m (dn_pre * r)
        dWx = sum_t x_t^T [dr_pre, dz_pre, dn_pre],   db = sum_t sum_m [dr_pre, dz_pre, dn_pre]

    The per-step GEMM is [h_{t-1}, x_t, 1] @ [[Whr, Whz, Whn], [Wxr, Wxz, 0], [br, bz, bhn]], which yields
    the r and z pre-activations and q at once; a_n = x_t Wxn + bn for all steps is one GEMM before the
    loop. Each step's gates are kept gate-major, (4, N, H) = r, z, q, n, so every operation is contiguous;
    in the code r is `reset`, z `update` and n `candidate`.
    """

    name = "gru"
    gates = 3
    param_names = ("Wx", "Wh", "b", "bhn")
    sigmoid_blocks = (0, 1)

    def init_params(self, rng, n_in, hidden, dtype, recurrent_init, recurrent_gain):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["bhn"] = np.zeros(hidden, dtype=dtype)
        return params

    def forward(self, params: Params, x: np.ndarray) -> tuple[np.ndarray, dict]:
        """x (T, N, D) -> h_1 .. h_T (T, N, H) and the cache for `backward`."""
        t_steps, n, d_in = x.shape
        hidden = params["Wh"].shape[0]
        n_start = 2 * hidden  # first column of the n block
        dtype = x.dtype
        ws = self.ws
        b = params["b"]
        weights = np.concatenate([params["Wh"], params["Wx"], b[None]])
        weights[hidden:-1, n_start:] = 0
        weights[-1, n_start:] = params["bhn"]
        weights *= self.column_scale(hidden, dtype)  # u = tanh(a / 2) on r, z: a sigmoid is (1 + u) / 2
        weights = self.by_gate(weights)  # (3, K, H)
        stacked = self.stacked_inputs(x, hidden)
        a_n = ws.get("a_n", (t_steps, n, hidden), dtype)  # a_n = x_t Wxn + bn, all steps at once
        weights_n = np.concatenate([params["Wx"][:, n_start:], b[None, n_start:]])  # [Wxn; bn]
        np.matmul(stacked[:t_steps, :, hidden:].reshape(-1, d_in + 1), weights_n, out=a_n.reshape(-1, hidden))
        gates = ws.get("gates", (t_steps, 4, n, hidden), dtype)  # r, z, q, n per step
        h_minus_n = ws.get("h_minus_n", (t_steps, n, hidden), dtype)  # h_{t-1} - n
        update_term = ws.get("update_term", (n, hidden), dtype)  # z * (h_{t-1} - n)
        for t in range(1, t_steps + 1):
            gates_t = gates[t - 1]
            np.matmul(stacked[t - 1], weights, out=gates_t[:3])  # scaled a_r + m_r, a_z + m_z, and q
            reset_update = gates_t[:2]
            np.tanh(reset_update, out=reset_update)
            reset_update *= 0.5
            reset_update += 0.5
            reset, update, q, candidate = gates_t
            np.multiply(reset, q, out=candidate)
            candidate += a_n[t - 1]
            np.tanh(candidate, out=candidate)
            np.subtract(stacked[t - 1, :, :hidden], candidate, out=h_minus_n[t - 1])
            np.multiply(update, h_minus_n[t - 1], out=update_term)
            np.add(candidate, update_term, out=stacked[t, :, :hidden])  # h_t
        cache = {"stacked": stacked, "gates": gates, "h_minus_n": h_minus_n}
        return stacked[1:, :, :hidden], cache

    def backward(
        self, params: Params, cache: dict, dout: np.ndarray, input_grad: bool = False
    ) -> tuple[np.ndarray | None, Params]:
        """dout (T, N, H) -> dx (T, N, D) (None unless `input_grad`) and the gradients of Wx, Wh, b, bhn."""
        stacked, gates, h_minus_n = (cache[k] for k in ("stacked", "gates", "h_minus_n"))
        t_steps, n, hidden = dout.shape
        n_start = 2 * hidden  # first column of the n block
        dtype = stacked.dtype
        ws = self.ws
        wh_transposed = np.ascontiguousarray(params["Wh"].T)
        slopes = ws.get("slopes", (t_steps, 3, n, hidden), dtype)  # s (1 - s) of r and z, and 1 - n^2
        reset_update, candidate = gates[:, :2], gates[:, 3]
        np.multiply(reset_update, reset_update, out=slopes[:, :2])
        np.subtract(reset_update, slopes[:, :2], out=slopes[:, :2])
        np.multiply(candidate, candidate, out=slopes[:, 2])
        np.subtract(1, slopes[:, 2], out=slopes[:, 2])
        dpre = ws.get("dpre", (t_steps, n, 3 * hidden), dtype)  # dM_t of every step
        dn_pre = ws.get("dn_pre", (t_steps, n, hidden), dtype)  # dn_pre of every step
        dpre_gates = ws.get("dpre_gates", (3, n, hidden), dtype)  # this step's dM_t, gate-major
        dh_direct = ws.get("dh_direct", (n, hidden), dtype)  # dh_t * z: the path through z * h_{t-1}
        dh_t = dout[-1].copy()
        for t in range(t_steps, 0, -1):
            slopes_t, dn_pre_t = slopes[t - 1], dn_pre[t - 1]
            reset, update, q, _ = gates[t - 1]
            np.multiply(dh_t, update, out=dh_direct)
            np.subtract(dh_t, dh_direct, out=dn_pre_t)
            dn_pre_t *= slopes_t[2]
            np.multiply(dn_pre_t, q, out=dpre_gates[0])
            np.multiply(dh_t, h_minus_n[t - 1], out=dpre_gates[1])
            np.multiply(dn_pre_t, reset, out=dpre_gates[2])
            dpre_gates[:2] *= slopes_t[:2]
            np.copyto(dpre[t - 1].reshape(n, 3, hidden), dpre_gates.transpose(1, 0, 2))
            if t > 1:
                np.matmul(dpre[t - 1], wh_transposed, out=dh_t)
                dh_t += dh_direct
                dh_t += dout[t - 2]  # now dh_{t-1}
                if t % 4 == 0:
                    flush_tiny(dh_t)
        dweights = self.stacked_grad(stacked, dpre)  # rows h, x, 1; the x rows of the n block are not parameters
        dweights_n = self.stacked_grad(stacked[:, :, hidden:], dn_pre)  # d[Wxn; bn]
        dx = None
        if input_grad:
            dpre[:, :, n_start:] = dn_pre  # the x-part deltas [dr_pre, dz_pre, dn_pre]
            dx = self.input_gradient(dpre, params["Wx"])
        return dx, {
            "Wh": dweights[:hidden],
            "Wx": np.concatenate([dweights[hidden:-1, :n_start], dweights_n[:-1]], axis=1),
            "b": np.concatenate([dweights[-1, :n_start], dweights_n[-1]]),
            "bhn": dweights[-1, n_start:],
        }


LAYERS: dict[str, type[_Layer]] = {layer.name: layer for layer in (RNNLayer, LSTMLayer, GRULayer)}
