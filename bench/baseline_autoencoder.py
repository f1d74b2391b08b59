"""W1 baseline: the sparse autoencoder as a typical course solution writes it (float64, one flat vector).

`ae_cost(We, data, params) -> (J, Jgrad)` exactly as the assignment asks: We holds W1, W2, b1, b2
flattened; data is L_in x N (samples in columns);

    h = sigmoid(W1 x + b1),  o = sigmoid(W2 h + b2),  rho_hat = mean_m h(m)
    J = 1/(2N) sum ||x - o||^2 + lambda/2 (sum W1^2 + sum W2^2) + beta sum_b KL(rho || rho_hat_b)

Gradients: delta_o = (o - x)/N o(1 - o); delta_h = (W2^T delta_o + beta/N (-rho/rho_hat +
(1 - rho)/(1 - rho_hat))) h(1 - h); dW2 = delta_o h^T + lambda W2; dW1 = delta_h x^T + lambda W1.
Every intermediate is a fresh array, the sigmoid is the textbook 1/(1 + exp(-z)).
"""

from __future__ import annotations

import numpy as np

from bench.baseline_sgd import BaselineRunner


def unpack(we: np.ndarray, lin: int, lhid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """We -> W1 (Lhid, Lin), W2 (Lin, Lhid), b1 (Lhid,), b2 (Lin,)."""
    a, b = lhid * lin, 2 * lhid * lin
    return we[:a].reshape(lhid, lin), we[a:b].reshape(lin, lhid), we[b : b + lhid], we[b + lhid :]


def ae_cost(we: np.ndarray, data: np.ndarray, params: dict) -> tuple[float, np.ndarray]:
    """[J, Jgrad] = aeCost(We, data, params); params has Lin, Lhid, lambda, beta, rho; data (Lin, N)."""
    w1, w2, b1, b2 = unpack(we, params["Lin"], params["Lhid"])
    lam, beta, rho = params["lambda"], params["beta"], params["rho"]
    n = data.shape[1]
    h = 1 / (1 + np.exp(-(w1 @ data + b1[:, None])))
    o = 1 / (1 + np.exp(-(w2 @ h + b2[:, None])))
    rho_hat = np.mean(h, axis=1)
    kl = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    cost = np.sum((data - o) ** 2) / (2 * n) + lam / 2 * (np.sum(w1**2) + np.sum(w2**2)) + beta * kl
    delta_o = (o - data) / n * o * (1 - o)
    sparsity = beta / n * (-rho / rho_hat + (1 - rho) / (1 - rho_hat))
    delta_h = (w2.T @ delta_o + sparsity[:, None]) * h * (1 - h)
    grad_w2 = delta_o @ h.T + lam * w2
    grad_w1 = delta_h @ data.T + lam * w1
    grad = np.concatenate([grad_w1.ravel(), grad_w2.ravel(), np.sum(delta_h, axis=1), np.sum(delta_o, axis=1)])
    return float(cost), grad


def build(work, weights: dict[str, np.ndarray], order: np.ndarray) -> BaselineRunner:
    """Runner for W1 from the reference weights (x W1 convention, transposed here to W1 x)."""
    h = work.hyper
    params = {"Lin": h["n_in"], "Lhid": h["n_hid"], "lambda": h["lam"], "beta": h["beta"], "rho": h["rho"]}
    we = np.concatenate([weights["W1"].T.ravel(), weights["W2"].T.ravel(), weights["b1"], weights["b2"]])

    def cost(p: dict[str, np.ndarray], batch: tuple[np.ndarray, ...]) -> tuple[float, dict[str, np.ndarray]]:
        loss, grad = ae_cost(p["We"], batch[0].T, params)
        return loss, {"We": grad}

    return BaselineRunner(cost, {"We": we}, (np.asarray(work.data[0], dtype=np.float64),), order,
                          work.batch_size, work.lr, work.momentum)
