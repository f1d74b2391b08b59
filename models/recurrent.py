"""Recurrent layers (vanilla tanh RNN, LSTM, GRU) with full back-propagation through time.

All three read a time-major sequence x (T, N, D) and return the last hidden state h_T (N, H); h_0 = 0
(and c_0 = 0). Parameters, with the G gate blocks of width H packed side by side so that each time
step needs ONE matrix product h_{t-1} Wh:

    Wx (D, G H), Wh (H, G H), b (G H,)          G = 1 (rnn), 4 (lstm: i, f, g, o), 3 (gru: r, z, n)
    bhn (H,)                                    gru only: the recurrent bias inside the reset product

Speed (this is the hot loop of Q3, 150 steps per batch):

- the input projection of all steps is ONE product, x reshaped to (T N, D) @ Wx;
- buffers are time-major, so the slice of step t is contiguous, and preallocated in a `Workspace`
  that is reused from batch to batch; every per-step operation writes with `out=`;
- the sigmoid gates use s(a) = (1 + tanh(a / 2)) / 2: the gate columns of Wx, Wh and b are scaled by
  1/2 once per batch, so ONE tanh covers every gate of a step; the backward pass folds the matching
  chain-rule factor 1/4 into the weights instead of the per-step deltas;
- BPTT stores the pre-activation deltas dA_t of every step and forms dWh = sum_t h_{t-1}^T dA_t as
  ONE product of the stacked (T N, H)^T @ (T N, G H) arrays after the loop (likewise dWx, db);
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
    """What the three layers share: packed parameters and the input projection."""

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
    def project(x: np.ndarray, wx: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out (T, N, G H) = x Wx + b for every step at once (one GEMM over (T N, D))."""
        t, n, d = x.shape
        np.matmul(x.reshape(t * n, d), wx, out=out.reshape(t * n, -1))
        out += b
        return out

    @staticmethod
    def input_grads(x: np.ndarray, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dWx = sum_t x_t^T dA_t, db = sum_t sum_m dA_t[m], as one GEMM over the stacked steps."""
        flat = da.reshape(-1, da.shape[-1])
        return x.reshape(-1, x.shape[-1]).T @ flat, flat.sum(axis=0)

    @staticmethod
    def recurrent_grad(hs: np.ndarray, da: np.ndarray) -> np.ndarray:
        """dWh = sum_{t=2..T} h_{t-1}^T dA_t (h_0 = 0 adds nothing) as one GEMM: hs (T+1, N, H), da (T, N, GH)."""
        hidden = hs.shape[-1]
        return hs[1:-1].reshape(-1, hidden).T @ da[1:].reshape(-1, da.shape[-1])


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
        wh = params["Wh"]
        hidden = wh.shape[0]
        hs = ws.get("h", (t_steps + 1, n, hidden), x.dtype)  # hs[t] = h_t, hs[0] = h_0 = 0
        hs[0] = 0
        self.project(x, params["Wx"], params["b"], hs[1:])
        tmp = ws.get("tmp", (n, hidden), x.dtype)
        np.tanh(hs[1], out=hs[1])
        for t in range(2, t_steps + 1):
            np.matmul(hs[t - 1], wh, out=tmp)
            hs[t] += tmp
            np.tanh(hs[t], out=hs[t])
        return hs[t_steps], {"x": x, "h": hs}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        x, hs = cache["x"], cache["h"]
        t_steps, n, hidden = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        wh_t = params["Wh"].T
        da = ws.get("da", (t_steps, n, hidden), x.dtype)
        dh = dh_last.copy()
        for t in range(t_steps, 0, -1):
            d = da[t - 1]
            np.multiply(hs[t], hs[t], out=d)
            np.subtract(1, d, out=d)
            d *= dh
            if t > 1:
                np.matmul(d, wh_t, out=dh)
                if t % 4 == 0:
                    flush_tiny(dh)
        dwx, db = self.input_grads(x, da)
        return {"Wx": dwx, "Wh": self.recurrent_grad(hs, da), "b": db}


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

    Initialisation adds 1 to the forget-gate bias (keeps c_t from being forgotten early in training).
    """

    name = "lstm"
    gates = 4
    sigmoid_blocks = (0, 1, 3)

    def init_params(self, rng, n_in, hidden, dtype=np.float64, recurrent_init="glorot", recurrent_gain=1.0):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["b"][hidden : 2 * hidden] = 1.0
        return params

    def forward(self, params: Params, x: np.ndarray, ws: Workspace) -> tuple[np.ndarray, dict]:
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        dt = x.dtype
        scale = self.column_scale(hidden, dt)
        # act = scale * u + shift with u = tanh(scale * a): the sigmoid for i, f, o and tanh for g
        act_scale = scale.reshape(4, hidden)[:, :1]
        act_shift = (1 - scale).reshape(4, hidden)[:, :1]
        wh = params["Wh"] * scale
        gates = ws.get("gates", (t_steps, n, 4 * hidden), dt)
        self.project(x, params["Wx"] * scale, params["b"] * scale, out=gates)
        deriv = ws.get("deriv", (t_steps, n, 4 * hidden), dt)  # 1 - u^2
        hs = ws.get("h", (t_steps + 1, n, hidden), dt)
        cs = ws.get("c", (t_steps + 1, n, hidden), dt)
        tanh_c = ws.get("tanh_c", (t_steps, n, hidden), dt)
        tmp4 = ws.get("tmp4", (n, 4 * hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        hs[0] = 0
        cs[0] = 0
        for t in range(1, t_steps + 1):
            g = gates[t - 1]
            if t > 1:
                np.matmul(hs[t - 1], wh, out=tmp4)
                g += tmp4
            np.tanh(g, out=g)
            d = deriv[t - 1]
            np.multiply(g, g, out=d)
            np.subtract(1, d, out=d)
            g4 = g.reshape(n, 4, hidden)
            g4 *= act_scale
            g4 += act_shift
            i, f, cand, o = g[:, :hidden], g[:, hidden : 2 * hidden], g[:, 2 * hidden : 3 * hidden], g[:, 3 * hidden :]
            np.multiply(f, cs[t - 1], out=cs[t])
            np.multiply(i, cand, out=tmp)
            cs[t] += tmp
            np.tanh(cs[t], out=tanh_c[t - 1])
            np.multiply(o, tanh_c[t - 1], out=hs[t])
        return hs[t_steps], {"x": x, "h": hs, "c": cs, "tanh_c": tanh_c, "gates": gates, "deriv": deriv}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        x, hs, cs, tanh_c, gates, deriv = (cache[k] for k in ("x", "h", "c", "tanh_c", "gates", "deriv"))
        t_steps, n, hidden = tanh_c.shape
        dt = x.dtype
        scale = self.column_scale(hidden, dt)
        # the loop's deltas lack the factor scale^2 (d act / d a = scale^2 (1 - u^2)); fold it into Wh
        wh_t = (params["Wh"] * (scale * scale)).T
        da = ws.get("da", (t_steps, n, 4 * hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        dh = dh_last.copy()
        dc = np.zeros_like(dh)
        for t in range(t_steps, 0, -1):
            g, tc, d = gates[t - 1], tanh_c[t - 1], da[t - 1]
            i, f, cand, o = g[:, :hidden], g[:, hidden : 2 * hidden], g[:, 2 * hidden : 3 * hidden], g[:, 3 * hidden :]
            np.multiply(tc, tc, out=tmp)
            np.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            np.multiply(dc, cand, out=d[:, :hidden])
            np.multiply(dc, cs[t - 1], out=d[:, hidden : 2 * hidden])
            np.multiply(dc, i, out=d[:, 2 * hidden : 3 * hidden])
            np.multiply(dh, tc, out=d[:, 3 * hidden :])
            d *= deriv[t - 1]
            if t > 1:
                dc *= f
                np.matmul(d, wh_t, out=dh)
                if t % 4 == 0:
                    flush_tiny(dh)
                    flush_tiny(dc)
        da *= scale * scale
        dwx, db = self.input_grads(x, da)
        return {"Wx": dwx, "Wh": self.recurrent_grad(hs, da), "b": db}


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
        dM_t = [dr_pre, dz_pre, dn_pre * r]            (gradient at h_{t-1} Wh)
        dA_t = [dr_pre, dz_pre, dn_pre]                (gradient at x_t Wx + b)
        dh_{t-1} = dh_t * z + dM_t Wh^T
        dWh = sum_t h_{t-1}^T dM_t,  dWx = sum_t x_t^T dA_t,  db = sum_t sum_m dA_t,  dbhn = sum (dn_pre * r)
    """

    name = "gru"
    gates = 3
    sigmoid_blocks = (0, 1)

    def init_params(self, rng, n_in, hidden, dtype=np.float64, recurrent_init="glorot", recurrent_gain=1.0):
        params = super().init_params(rng, n_in, hidden, dtype, recurrent_init, recurrent_gain)
        params["bhn"] = np.zeros(hidden, dtype=dtype)
        return params

    def forward(self, params: Params, x: np.ndarray, ws: Workspace) -> tuple[np.ndarray, dict]:
        t_steps, n, _ = x.shape
        hidden = params["Wh"].shape[0]
        h2 = 2 * hidden
        dt = x.dtype
        scale = self.column_scale(hidden, dt)
        wh = params["Wh"] * scale
        bhn = params["bhn"]
        gates = ws.get("gates", (t_steps, n, 3 * hidden), dt)
        self.project(x, params["Wx"] * scale, params["b"] * scale, out=gates)
        deriv = ws.get("deriv", (t_steps, n, 3 * hidden), dt)  # 1 - u^2 for r, z; 1 - n^2 for n
        q_all = ws.get("q", (t_steps, n, hidden), dt)
        diff = ws.get("diff", (t_steps, n, hidden), dt)  # h_{t-1} - n
        hs = ws.get("h", (t_steps + 1, n, hidden), dt)
        tmp3 = ws.get("tmp3", (n, 3 * hidden), dt)
        tmp = ws.get("tmp", (n, hidden), dt)
        hs[0] = 0
        tmp3[...] = 0
        for t in range(1, t_steps + 1):
            g, d, q = gates[t - 1], deriv[t - 1], q_all[t - 1]
            if t > 1:
                np.matmul(hs[t - 1], wh, out=tmp3)
                g[:, :h2] += tmp3[:, :h2]
            rz = g[:, :h2]
            np.tanh(rz, out=rz)
            np.multiply(rz, rz, out=d[:, :h2])
            np.subtract(1, d[:, :h2], out=d[:, :h2])
            rz *= 0.5
            rz += 0.5
            r, z, cand = g[:, :hidden], g[:, hidden:h2], g[:, h2:]
            np.add(tmp3[:, h2:], bhn, out=q)
            np.multiply(r, q, out=tmp)
            cand += tmp
            np.tanh(cand, out=cand)
            np.multiply(cand, cand, out=d[:, h2:])
            np.subtract(1, d[:, h2:], out=d[:, h2:])
            np.subtract(hs[t - 1], cand, out=diff[t - 1])
            np.multiply(z, diff[t - 1], out=tmp)
            np.add(cand, tmp, out=hs[t])
        return hs[t_steps], {"x": x, "h": hs, "gates": gates, "deriv": deriv, "q": q_all, "diff": diff}

    def backward(self, params: Params, cache: dict, dh_last: np.ndarray, ws: Workspace) -> Params:
        x, hs, gates, deriv, q_all, diff = (cache[k] for k in ("x", "h", "gates", "deriv", "q", "diff"))
        t_steps, n, hidden = q_all.shape
        h2 = 2 * hidden
        dt = x.dtype
        scale = self.column_scale(hidden, dt)
        wh_t = (params["Wh"] * (scale * scale)).T  # r, z deltas lack the factor 1/4, folded in here
        dm = ws.get("dm", (t_steps, n, 3 * hidden), dt)
        dn = ws.get("dn", (t_steps, n, hidden), dt)
        direct = ws.get("direct", (n, hidden), dt)
        dh = dh_last.copy()
        for t in range(t_steps, 0, -1):
            g, d, m, q = gates[t - 1], deriv[t - 1], dm[t - 1], q_all[t - 1]
            r, z = g[:, :hidden], g[:, hidden:h2]
            np.multiply(dh, z, out=direct)
            np.subtract(dh, direct, out=dn[t - 1])
            dn[t - 1] *= d[:, h2:]
            np.multiply(dn[t - 1], r, out=m[:, h2:])
            np.multiply(dn[t - 1], q, out=m[:, :hidden])
            np.multiply(dh, diff[t - 1], out=m[:, hidden:h2])
            m[:, :h2] *= d[:, :h2]
            if t > 1:
                np.matmul(m, wh_t, out=dh)
                dh += direct
                if t % 4 == 0:
                    flush_tiny(dh)
        dm[:, :, :h2] *= 0.25
        flat_m = dm.reshape(-1, 3 * hidden)
        x_flat = x.reshape(-1, x.shape[-1])
        dwx = np.concatenate([x_flat.T @ flat_m[:, :h2], x_flat.T @ dn.reshape(-1, hidden)], axis=1)
        db = np.concatenate([flat_m[:, :h2].sum(axis=0), dn.reshape(-1, hidden).sum(axis=0)])
        return {"Wx": dwx, "Wh": self.recurrent_grad(hs, dm), "b": db, "bhn": flat_m[:, h2:].sum(axis=0)}


LAYERS: dict[str, _Layer] = {layer.name: layer for layer in (RNNLayer(), LSTMLayer(), GRULayer())}
