"""Recurrent layers (vanilla tanh RNN, LSTM, GRU) with full back-propagation through time.

All three read a time-major sequence x (T, N, D) and return the last hidden state h_T (N, H); h_0 = 0
(and c_0 = 0). Parameters, with the G gate blocks of width H packed side by side so that each time
step needs ONE matrix product h_{t-1} Wh:

    Wx (D, G H), Wh (H, G H), b (G H,)          G = 1 (rnn), 4 (lstm: i, f, g, o), 3 (gru: r, z, n)
    bhn (H,)                                    gru only: the recurrent bias inside the reset product

Speed (this is the hot loop of Q3, 150 steps per batch):

- the input enters the same GEMM as the state: z_{t-1} = [h_{t-1}, x_t, 1] (N, H + D + 1) times
  [Wh; Wx; b] (no separate projection buffer, no per-step addition);
- buffers are time-major, so the slice of step t is contiguous, and preallocated in a `Workspace`
  that is reused from batch to batch; every per-step operation writes with `out=`;
- the sigmoid gates use s(a) = (1 + tanh(a / 2)) / 2: the gate columns of Wx, Wh and b are scaled by
  1/2 once per batch, so ONE tanh covers every gate of a step;
- each step's gate activations are stored gate-major, (G, N, H), so that the per-gate element-wise
  operations run on contiguous arrays (column slices of an (N, G H) array cost ~3x more); one strided
  copy per step moves between this layout and the (N, G H) layout of the GEMMs;
- BPTT stores the pre-activation deltas dA_t of every step and forms d[Wh; Wx; b] =
  sum_t z_{t-1}^T dA_t as ONE product of the stacked (T N, H + D + 1)^T @ (T N, G H) arrays after
  the loop;
- `flush_tiny` zeroes deltas that decay towards the float32 denormal range (~1e-38), where every
  arithmetic operation becomes many times slower.

Known traps avoided (each is covered by the finite-difference and PyTorch tests): the transpose in
dh_{t-1} = dA_t Wh^T, the time index (dA_t pairs with h_{t-1}, not h_t) and the first step (t = 1 is
back-propagated into Wx and b even though h_0 = 0 contributes nothing to dWh).
"""

from __future__ import annotations

import numpy as np

from models.contract import Params
from models.init import uniform_glorot

RECURRENT_INITS = ("glorot", "orthogonal", "identity")


class Workspace:
    """Named scratch arrays reused across calls while their shape and dtype stay the same."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array


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


class _Layer:
    """What the three layers share: packed parameters, the stacked [h, x, 1] inputs and their gradient."""

    name = ""
    gates = 1
    sigmoid_blocks: tuple[int, ...] = ()  # gate blocks that are sigmoids (scaled by 1/2, see module doc)

    def init_params(
        self,
        rng: np.random.Generator,
        n_in: int,
        hidden: int,
        dtype: type = np.float64,
        recurrent_init: str = "glorot",
        recurrent_gain: float = 1.0,
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

    @staticmethod
    def stacked_inputs(x: np.ndarray, hidden: int, ws: Workspace) -> np.ndarray:
        """z (T+1, N, H + D + 1) with z[t-1] = [h_{t-1}, x_t, 1], so that one GEMM z[t-1] @ [Wh; Wx; b]
        gives every gate's pre-activation at step t, and z[:T] stacked gives every weight gradient at once.
        Row z[0] holds h_0 = 0; the layer writes h_t into z[t][:, :H]."""
        t_steps, n, d = x.shape
        z = ws.get("z", (t_steps + 1, n, hidden + d + 1), x.dtype)
        z[0, :, :hidden] = 0
        z[:t_steps, :, hidden:-1] = x
        z[:t_steps, :, -1] = 1
        z[t_steps, :, hidden:] = 0
        return z

    @staticmethod
    def stacked_grad(z: np.ndarray, da: np.ndarray) -> np.ndarray:
        """d[Wh; Wx; b] = sum_t [h_{t-1}, x_t, 1]^T dA_t as ONE GEMM: z (T+1, N, K), da (T, N, GH) -> (K, GH)."""
        t_steps = len(da)
        return z[:t_steps].reshape(-1, z.shape[-1]).T @ da.reshape(-1, da.shape[-1])


class RNNLayer(_Layer):
    """Vanilla tanh RNN.

    Forward, t = 1 .. T:

        a_t = x_t Wx + h_{t-1} Wh + b,   h_t = tanh(a_t)

    BPTT, from dh_T = dJ/dh_T (given by the head) down to t = 1:

        dA_t = dh_t * (1 - h_t^2)
        dh_{t-1} = dA_t Wh^T
        dWh = sum_t h_{t-1}^T dA_t,   dWx = sum_t x_t^T dA_t,   db = sum_t sum_m dA_t
    """

    name = "rnn"
    gates = 1

    def forward(self, params: Params, x: np.ndarray, ws: Workspace) -> tuple[np.ndarray, dict]:
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        w = np.concatenate([params["Wh"], params["Wx"], params["b"][None]])
        z = self.stacked_inputs(x, hidden, ws)
        tmp = ws.get("tmp", (n, hidden), x.dtype)
        for t in range(1, t_steps + 1):
            np.matmul(z[t - 1], w, out=tmp)
            np.tanh(tmp, out=z[t, :, :hidden])
        return z[t_steps, :, :hidden], {"z": z}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        z = cache["z"]
        t_steps, n, hidden = len(z) - 1, z.shape[1], params["Wh"].shape[0]
        wh_t = np.ascontiguousarray(params["Wh"].T)
        da = ws.get("da", (t_steps, n, hidden), z.dtype)
        dh = dh_last.copy()
        for t in range(t_steps, 0, -1):
            h, d = z[t, :, :hidden], da[t - 1]
            np.multiply(h, h, out=d)
            np.subtract(1, d, out=d)
            d *= dh
            if t > 1:
                np.matmul(d, wh_t, out=dh)
                if t % 4 == 0:
                    flush_tiny(dh)
        dw = self.stacked_grad(z, da)
        return {"Wh": dw[:hidden], "Wx": dw[hidden:-1], "b": dw[-1]}


class LSTMLayer(_Layer):
    """LSTM, gate blocks packed in the order i, f, g, o (s = logistic sigmoid, * element-wise):

        [a_i, a_f, a_g, a_o] = x_t Wx + h_{t-1} Wh + b
        i = s(a_i),  f = s(a_f),  g = tanh(a_g),  o = s(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    BPTT, with dh_t = (dJ/dh_T at t = T) or dA_{t+1} Wh^T, and dc_t carried from step t+1:

        dc_t += dh_t * o * (1 - tanh(c_t)^2)
        dA_t = [dc_t * g * i (1 - i),  dc_t * c_{t-1} * f (1 - f),  dc_t * i * (1 - g^2),
                dh_t * tanh(c_t) * o (1 - o)]
        dc_{t-1} = dc_t * f,   dh_{t-1} = dA_t Wh^T
        dWh = sum_t h_{t-1}^T dA_t,   dWx = sum_t x_t^T dA_t,   db = sum_t sum_m dA_t

    Internally the blocks are reordered to i, f, o, g (sigmoids first) and each step's gates are kept
    gate-major, (4, N, H), so every per-gate operation runs on a contiguous array. Initialisation adds
    1 to the forget-gate bias (keeps c_t from being forgotten early in training).
    """

    name = "lstm"
    gates = 4
    sigmoid_blocks = (0, 1, 2)  # in the internal order i, f, o, g
    ORDER = [0, 1, 3, 2]  # internal block k is parameter block ORDER[k] (a swap, so its own inverse)

    def init_params(self, rng, n_in, hidden, dtype=np.float64, recurrent_init="glorot", recurrent_gain=1.0):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["b"][hidden : 2 * hidden] = 1.0
        return params

    def reorder(self, w: np.ndarray) -> np.ndarray:
        """Swap the g and o column blocks of a (..., 4 H) array (parameter order <-> internal order)."""
        hidden = w.shape[-1] // 4
        return w.reshape(*w.shape[:-1], 4, hidden)[..., self.ORDER, :].reshape(w.shape)

    def forward(self, params: Params, x: np.ndarray, ws: Workspace) -> tuple[np.ndarray, dict]:
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        dt = x.dtype
        scale = self.column_scale(hidden, dt)  # u = tanh(scale * a): a sigmoid is (1 + u) / 2
        w = self.reorder(np.concatenate([params["Wh"], params["Wx"], params["b"][None]])) * scale
        z = self.stacked_inputs(x, hidden, ws)
        gates = ws.get("gates", (t_steps, 4, n, hidden), dt)  # i, f, o, g per step
        deriv = ws.get("deriv", (t_steps, 4, n, hidden), dt)  # s (1 - s) and 1 - g^2
        cs = ws.get("c", (t_steps + 1, n, hidden), dt)
        tanh_c = ws.get("tanh_c", (t_steps, n, hidden), dt)
        tmp4 = ws.get("tmp4", (n, 4 * hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        cs[0] = 0
        for t in range(1, t_steps + 1):
            gt, d = gates[t - 1], deriv[t - 1]
            np.matmul(z[t - 1], w, out=tmp4)
            np.copyto(gt, tmp4.reshape(n, 4, hidden).transpose(1, 0, 2))
            np.tanh(gt, out=gt)
            sig = gt[:3]
            sig *= 0.5
            sig += 0.5
            np.multiply(gt, gt, out=d)
            np.subtract(sig, d[:3], out=d[:3])
            np.subtract(1, d[3], out=d[3])
            i, f, o, g = gt
            np.multiply(f, cs[t - 1], out=cs[t])
            np.multiply(i, g, out=tmp)
            cs[t] += tmp
            np.tanh(cs[t], out=tanh_c[t - 1])
            np.multiply(o, tanh_c[t - 1], out=z[t, :, :hidden])
        return z[t_steps, :, :hidden], {"z": z, "c": cs, "tanh_c": tanh_c, "gates": gates, "deriv": deriv}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        z, cs, tanh_c, gates, deriv = (cache[k] for k in ("z", "c", "tanh_c", "gates", "deriv"))
        t_steps, n, hidden = tanh_c.shape
        dt = z.dtype
        wh_t = np.ascontiguousarray(self.reorder(params["Wh"]).T)
        da = ws.get("da", (t_steps, n, 4 * hidden), dt)  # internal order, stacked for the weight GEMM
        e = ws.get("e", (4, n, hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        dh = dh_last.copy()
        dc = np.zeros_like(dh)
        for t in range(t_steps, 0, -1):
            tc = tanh_c[t - 1]
            i, f, o, g = gates[t - 1]
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            np.multiply(dc, g, out=e[0])
            np.multiply(dc, cs[t - 1], out=e[1])
            np.multiply(dh, tc, out=e[2])
            np.multiply(dc, i, out=e[3])
            e *= deriv[t - 1]
            np.copyto(da[t - 1].reshape(n, 4, hidden), e.transpose(1, 0, 2))
            if t > 1:
                dc *= f
                np.matmul(da[t - 1], wh_t, out=dh)
                if t % 4 == 0:
                    flush_tiny(dh)
                    flush_tiny(dc)
        dw = self.reorder(self.stacked_grad(z, da))
        return {"Wh": dw[:hidden], "Wx": dw[hidden:-1], "b": dw[-1]}


class GRULayer(_Layer):
    """GRU, gate blocks packed in the order r, z, n, reset applied after the product (as in cuDNN and
    PyTorch), so that one GEMM h_{t-1} Wh per step serves all three blocks:

        [a_r, a_z, a_n] = x_t Wx + b,   [m_r, m_z, m_n] = h_{t-1} Wh
        r = s(a_r + m_r),   z = s(a_z + m_z)
        q = m_n + bhn
        n = tanh(a_n + r * q)
        h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

    BPTT, with dh_t = (dJ/dh_T at t = T) or the sum of both paths from step t+1:

        dn_pre = dh_t * (1 - z) * (1 - n^2)            (gradient at a_n + r q)
        dz_pre = dh_t * (h_{t-1} - n) * z (1 - z)
        dr_pre = dn_pre * q * r (1 - r)
        dM_t = [dr_pre, dz_pre, dn_pre * r]            (gradient at [a_r + m_r, a_z + m_z, q])
        dh_{t-1} = dh_t * z + dM_t Wh^T
        dWh = sum_t h_{t-1}^T dM_t,   dbhn = sum_t sum_m (dn_pre * r)
        dWx = sum_t x_t^T [dr_pre, dz_pre, dn_pre],   db = sum_t sum_m [dr_pre, dz_pre, dn_pre]

    The per-step GEMM is [h_{t-1}, x_t, 1] @ [[Whr, Whz, Whn], [Wxr, Wxz, 0], [br, bz, bhn]], which yields
    the r and z pre-activations and q at once; a_n = x_t Wxn + bn for all steps is one GEMM before the
    loop. Each step's gates are kept gate-major, (4, N, H) = r, z, q, n, so every operation is contiguous.
    """

    name = "gru"
    gates = 3
    sigmoid_blocks = (0, 1)

    def init_params(self, rng, n_in, hidden, dtype=np.float64, recurrent_init="glorot", recurrent_gain=1.0):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["bhn"] = np.zeros(hidden, dtype=dtype)
        return params

    def forward(self, params: Params, x: np.ndarray, ws: Workspace) -> tuple[np.ndarray, dict]:
        t_steps, n, d_in = x.shape
        hidden = params["Wh"].shape[0]
        h2 = 2 * hidden
        dt = x.dtype
        b = params["b"]
        w = np.concatenate([params["Wh"], params["Wx"], b[None]])
        w[hidden:-1, h2:] = 0
        w[-1, h2:] = params["bhn"]
        w *= self.column_scale(hidden, dt)  # u = tanh(a / 2) on r, z: a sigmoid is (1 + u) / 2
        z = self.stacked_inputs(x, hidden, ws)
        xn = ws.get("xn", (t_steps, n, hidden), dt)  # a_n = x_t Wxn + bn, all steps at once
        wn = np.concatenate([params["Wx"][:, h2:], b[None, h2:]])
        np.matmul(z[:t_steps, :, hidden:].reshape(-1, d_in + 1), wn, out=xn.reshape(-1, hidden))
        gates = ws.get("gates", (t_steps, 4, n, hidden), dt)  # r, z, q, n per step
        deriv = ws.get("deriv", (t_steps, 3, n, hidden), dt)  # s (1 - s) and 1 - n^2
        diff = ws.get("diff", (t_steps, n, hidden), dt)  # h_{t-1} - n
        tmp3 = ws.get("tmp3", (n, 3 * hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        for t in range(1, t_steps + 1):
            gt, d = gates[t - 1], deriv[t - 1]
            np.matmul(z[t - 1], w, out=tmp3)
            np.copyto(gt[:3], tmp3.reshape(n, 3, hidden).transpose(1, 0, 2))
            rz = gt[:2]
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, zg, q, cand = gt
            np.multiply(r, q, out=cand)
            cand += xn[t - 1]
            np.tanh(cand, out=cand)
            np.multiply(rz, rz, out=d[:2])
            np.subtract(rz, d[:2], out=d[:2])
            np.multiply(cand, cand, out=d[2])
            np.subtract(1, d[2], out=d[2])
            np.subtract(z[t - 1, :, :hidden], cand, out=diff[t - 1])
            np.multiply(zg, diff[t - 1], out=tmp)
            np.add(cand, tmp, out=z[t, :, :hidden])
        return z[t_steps, :, :hidden], {"z": z, "gates": gates, "deriv": deriv, "diff": diff}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        z, gates, deriv, diff = (cache[k] for k in ("z", "gates", "deriv", "diff"))
        t_steps, n, hidden = diff.shape
        h2 = 2 * hidden
        dt = z.dtype
        wh_t = np.ascontiguousarray(params["Wh"].T)
        dm = ws.get("dm", (t_steps, n, 3 * hidden), dt)
        dn = ws.get("dn", (t_steps, n, hidden), dt)
        e = ws.get("e", (3, n, hidden), dt)
        direct = ws.get("direct", (n, hidden), dt)
        dh = dh_last.copy()
        for t in range(t_steps, 0, -1):
            d, dnt = deriv[t - 1], dn[t - 1]
            r, zg, q, _ = gates[t - 1]
            np.multiply(dh, zg, out=direct)
            np.subtract(dh, direct, out=dnt)
            dnt *= d[2]
            np.multiply(dnt, q, out=e[0])
            np.multiply(dh, diff[t - 1], out=e[1])
            np.multiply(dnt, r, out=e[2])
            e[:2] *= d[:2]
            np.copyto(dm[t - 1].reshape(n, 3, hidden), e.transpose(1, 0, 2))
            if t > 1:
                np.matmul(dm[t - 1], wh_t, out=dh)
                dh += direct
                if t % 4 == 0:
                    flush_tiny(dh)
        dw = self.stacked_grad(z, dm)  # rows h, x, 1; the x rows of the n block are not parameters
        dwn = self.stacked_grad(z[:, :, hidden:], dn)  # d[Wxn; bn]
        return {
            "Wh": dw[:hidden],
            "Wx": np.concatenate([dw[hidden:-1, :h2], dwn[:-1]], axis=1),
            "b": np.concatenate([dw[-1, :h2], dwn[-1]]),
            "bhn": dw[-1, h2:],
        }


LAYERS: dict[str, _Layer] = {layer.name: layer for layer in (RNNLayer(), LSTMLayer(), GRULayer())}
