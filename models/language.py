"""Q2: the trigram next-word model (shared word embedding -> sigmoid hidden layer -> softmax).

For a batch of N trigrams x (N, 3) of 0-based word indices and targets d (N,):

    e_n   = [R[x_n1], R[x_n2], R[x_n3]]             (N, 3D)  one embedding matrix R (V, D), concatenated
    h     = sigmoid(e W1 + b1)                       (N, P)
    z     = h W2 + b2                                (N, V)
    p     = softmax(z)                               (N, V)
    J     = -1/N sum_n log p[n, d_n]                 mean cross-entropy

Back-propagation, with y the one-hot targets:

    dz  = (p - y) / N                                (N, V)
    dW2 = h^T dz,   db2 = sum_n dz,   dh = dz W2^T
    da  = dh * h * (1 - h)                           (N, P)
    dW1 = e^T da,   db1 = sum_n da,   de = da W1^T   (N, 3D)
    dR[v] = sum over every (n, k) with x_nk = v of de[n, kD:(k+1)D]

The last sum accumulates repeated words (in a batch and within one trigram) with one `np.bincount`
over flattened (word, column) bins; fancy-index `+=` would keep only one of the repeats.

Training is built for speed: float32 works as well as float64 here, intermediate (N, .) arrays live in a
per-batch-size workspace reused across calls, the softmax and its cross-entropy gradient are fused in
place, and the three embeddings are gathered with one `np.take` into a preallocated buffer. Gradients
are fresh arrays on every call, so callers may keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.activations import log_softmax, sigmoid, softmax
from models.contract import Batch, Params
from models.init import gaussian

CONTEXT = 3  # words per input trigram


@dataclass
class _Workspace:
    """Reusable buffers for batches of `n` trigrams in one dtype."""

    emb: np.ndarray  # (n, 3D) gathered embeddings e
    hidden: np.ndarray  # (n, P) h, later nothing else
    slope: np.ndarray  # (n, P) h (1 - h)
    dhidden: np.ndarray  # (n, P) dh, then da
    logits: np.ndarray  # (n, V) z, then p, then dz
    demb: np.ndarray  # (n, 3D) de
    bins: np.ndarray  # (3n, D) int64 flattened (word, column) bin of every entry of de
    rows: np.ndarray  # (n,) 0..n-1
    columns: np.ndarray  # (D,) 0..D-1


class TrigramLM:
    """Next-word model of the assignment's Q2, following `models.contract.Model`.

    Parameters
    ----------
    vocab : V, words in the vocabulary (250 for data2).
    dim : D, embedding size per word.
    hidden : P, sigmoid hidden units.
    init_std : standard deviation of the Gaussian initialisation of every weight and bias.

    Params: 'R' (V, D), 'W1' (3D, P), 'b1' (P,), 'W2' (P, V), 'b2' (V,).
    Batch: (x, d) with x (N, 3) and d (N,) integer 0-based word indices.
    """

    def __init__(self, vocab: int, dim: int, hidden: int, init_std: float) -> None:
        self.vocab, self.dim, self.hidden, self.init_std = vocab, dim, hidden, init_std
        self._workspaces: dict[tuple[int, np.dtype], _Workspace] = {}

    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        """Gaussian N(0, init_std^2) weights and biases, drawn in the order R, W1, b1, W2, b2."""
        v, d, p, std = self.vocab, self.dim, self.hidden, self.init_std
        shapes = {"R": (v, d), "W1": (CONTEXT * d, p), "b1": (p,), "W2": (p, v), "b2": (v,)}
        return {name: gaussian(rng, shape, std, dtype) for name, shape in shapes.items()}

    # -- forward pieces -------------------------------------------------------------------------

    def _workspace(self, n: int, dtype: np.dtype) -> _Workspace:
        key = (n, np.dtype(dtype))
        ws = self._workspaces.get(key)
        if ws is None:
            if len(self._workspaces) >= 8:  # training batch sizes and evaluation chunk sizes
                self._workspaces.pop(next(iter(self._workspaces)))
            d3, p, v = CONTEXT * self.dim, self.hidden, self.vocab
            ws = self._workspaces[key] = _Workspace(
                emb=np.empty((n, d3), dtype), hidden=np.empty((n, p), dtype), slope=np.empty((n, p), dtype),
                dhidden=np.empty((n, p), dtype), logits=np.empty((n, v), dtype), demb=np.empty((n, d3), dtype),
                bins=np.empty((CONTEXT * n, self.dim), np.int64), rows=np.arange(n), columns=np.arange(self.dim),
            )
        return ws

    def _logits(self, params: Params, x: np.ndarray, ws: _Workspace) -> np.ndarray:
        """Fill ws.emb (N, 3D), ws.hidden (N, P) and ws.logits (N, V) = z; return ws.logits."""
        n = len(x)
        np.take(params["R"], x.reshape(-1), axis=0, out=ws.emb.reshape(CONTEXT * n, self.dim))
        np.matmul(ws.emb, params["W1"], out=ws.hidden)
        ws.hidden += params["b1"]
        sigmoid(ws.hidden, out=ws.hidden)
        np.matmul(ws.hidden, params["W2"], out=ws.logits)
        ws.logits += params["b2"]
        return ws.logits

    def _check(self, params: Params, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != CONTEXT:
            raise ValueError(f"x must have shape (N, {CONTEXT}), got {x.shape}")
        if params["R"].shape != (self.vocab, self.dim) or params["W2"].shape != (self.hidden, self.vocab):
            raise ValueError("params do not match this model's vocab, dim and hidden sizes")

    # -- the contract ---------------------------------------------------------------------------

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        """Mean cross-entropy J and dJ/dparam for every parameter (fresh arrays, dtype of params)."""
        x, d = batch
        self._check(params, x)
        n = len(x)
        ws = self._workspace(n, params["W1"].dtype)
        z = self._logits(params, x, ws)

        # fused stable softmax + cross-entropy: J_n = log sum exp(z_n - m_n) - (z_nd - m_n)
        z -= z.max(axis=1, keepdims=True)
        target = z[ws.rows, d]
        np.exp(z, out=z)
        total = z.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(total), dtype=np.float64) - np.mean(target, dtype=np.float64))
        np.reciprocal(total, out=total)
        total *= 1.0 / n
        z *= total  # p / N
        z[ws.rows, d] -= 1.0 / n  # dz = (p - y) / N
        dz = z

        h, dh = ws.hidden, ws.dhidden
        grads = {"W2": h.T @ dz, "b2": dz.sum(axis=0)}
        np.matmul(dz, params["W2"].T, out=dh)
        np.multiply(h, h, out=ws.slope)
        np.subtract(h, ws.slope, out=ws.slope)
        dh *= ws.slope  # da
        grads["W1"] = ws.emb.T @ dh
        grads["b1"] = dh.sum(axis=0)
        np.matmul(dh, params["W1"].T, out=ws.demb)
        grads["R"] = self._embedding_grad(x, ws, params["R"].dtype)
        return loss, grads

    def _embedding_grad(self, x: np.ndarray, ws: _Workspace, dtype: np.dtype) -> np.ndarray:
        """dR (V, D): entry (v, j) sums de[n, kD + j] over every position (n, k) holding word v.

        One bincount over V*D bins, bin = word * D + column, so repeated words add up.
        """
        n, dim = len(x), self.dim
        np.multiply(x.reshape(CONTEXT * n, 1), dim, out=ws.bins)
        ws.bins += ws.columns
        flat = np.bincount(ws.bins.reshape(-1), weights=ws.demb.reshape(-1), minlength=self.vocab * dim)
        return flat.reshape(self.vocab, dim).astype(dtype, copy=False)

    def evaluate(self, params: Params, batch: Batch) -> dict[str, float]:
        """'loss': mean cross-entropy; 'accuracy': fraction of rows whose most probable word is d."""
        x, d = batch
        self._check(params, x)
        z = self._logits(params, x, self._workspace(len(x), params["W1"].dtype))
        logp = log_softmax(z, axis=1)
        rows = np.arange(len(x))
        return {
            "loss": float(-np.mean(logp[rows, d], dtype=np.float64)),
            "accuracy": float(np.mean(np.argmax(z, axis=1) == d)),
        }

    def predict(self, params: Params, x: np.ndarray) -> np.ndarray:
        """(N, V) probabilities of the 4th word for trigrams x (N, 3); rows sum to 1."""
        self._check(params, x)
        z = self._logits(params, x, self._workspace(len(x), params["W1"].dtype))
        return softmax(z, axis=1)


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable words, most probable first.

    Parameters
    ----------
    probs : (V,) or (N, V) probabilities.
    k : how many, 1 <= k <= V.

    Returns
    -------
    indices, values : (k,) or (N, k); values[..., 0] is the largest probability. Ties keep the lower
        word index first.
    """
    if not 1 <= k <= probs.shape[-1]:
        raise ValueError(f"k must be in 1..{probs.shape[-1]}, got {k}")
    order = np.argsort(-probs, axis=-1, kind="stable")[..., :k]
    return order, np.take_along_axis(probs, order, axis=-1)
