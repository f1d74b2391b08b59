"""W2 baseline: the trigram network as a typical course solution writes it (float64, fresh arrays).

    e = [R[w1], R[w2], R[w3]]             (B, 3D)   embedding rows concatenated
    h = sigmoid(e W1 + b1)                (B, P)
    p = softmax(h W2 + b2)                (B, V)
    J = -1/B sum_m log p[m, d_m]

Backward: dz2 = (p - onehot(d)) / B; dW2 = h^T dz2; dz1 = (dz2 W2^T) h (1 - h); dW1 = e^T dz1;
de = dz1 W1^T, scattered back onto the rows of R with np.add.at (repeated words accumulate).
"""

from __future__ import annotations

import numpy as np

from bench.baseline_sgd import BaselineRunner


def cost(params: dict[str, np.ndarray], batch: tuple[np.ndarray, ...]) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy of batch (x (B, 3) word indices, d (B,) next word) and its gradients."""
    x, d = batch
    r, w1, b1, w2, b2 = params["R"], params["W1"], params["b1"], params["W2"], params["b2"]
    n, dim = len(x), r.shape[1]
    e = r[x].reshape(n, 3 * dim)
    h = 1 / (1 + np.exp(-(e @ w1 + b1)))
    z = h @ w2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), d]))
    onehot = np.zeros_like(p)
    onehot[np.arange(n), d] = 1
    dz2 = (p - onehot) / n
    dz1 = (dz2 @ w2.T) * h * (1 - h)
    de = (dz1 @ w1.T).reshape(n, 3, dim)
    grad_r = np.zeros_like(r)
    np.add.at(grad_r, x, de)
    grads = {"R": grad_r, "W1": e.T @ dz1, "b1": np.sum(dz1, axis=0), "W2": h.T @ dz2, "b2": np.sum(dz2, axis=0)}
    return float(loss), grads


def build(work, weights: dict[str, np.ndarray], order: np.ndarray) -> BaselineRunner:
    """Runner for W2; the reference layout is used as it is."""
    params = {name: np.asarray(w, dtype=np.float64) for name, w in weights.items()}
    return BaselineRunner(cost, params, work.data, order, work.batch_size, work.lr, work.momentum)
