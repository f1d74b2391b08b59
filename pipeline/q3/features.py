"""The summary-statistics baseline of Q3: softmax regression on 36 numbers per window.

Per window and per signal (the three axes and the magnitude sqrt(x^2 + y^2 + z^2)), nine statistics over time:
mean, standard deviation, minimum, maximum, 10th / 50th / 90th percentile, mean absolute step |s_t - s_{t-1}| and
the standard deviation of the steps. Features are standardised with training statistics; the model is
p = softmax(f W + b) with weight decay lam/2 |W|^2, fitted by L-BFGS (convex, so no seed matters); lam is chosen
on the validation windows.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from models.mlp import MLPHead

STATISTICS = ("mean", "std", "min", "max", "p10", "p50", "p90", "mean_abs_step", "std_step")


def summary_features(x: np.ndarray) -> np.ndarray:
    """(N, T, 3) windows -> (N, 36): the nine statistics of each of x, y, z and the magnitude."""
    signals = np.concatenate([x, np.linalg.norm(x, axis=2, keepdims=True)], axis=2)  # (N, T, 4)
    steps = np.diff(signals, axis=1)
    p10, p50, p90 = np.percentile(signals, [10, 50, 90], axis=1)
    columns = [signals.mean(axis=1), signals.std(axis=1), signals.min(axis=1), signals.max(axis=1), p10, p50, p90,
               np.abs(steps).mean(axis=1), steps.std(axis=1)]
    return np.concatenate(columns, axis=1)


def fit_softmax(features: np.ndarray, y: np.ndarray, n_classes: int, lam: float) -> dict[str, np.ndarray]:
    """Weights W1 (F, C), b1 (C,) of softmax regression with weight decay lam, by L-BFGS from zero."""
    head = MLPHead(features.shape[1], (), n_classes)
    shapes = {"W1": (features.shape[1], n_classes), "b1": (n_classes,)}
    split = int(np.prod(shapes["W1"]))

    def unpack(w: np.ndarray) -> dict[str, np.ndarray]:
        return {"W1": w[:split].reshape(shapes["W1"]), "b1": w[split:]}

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        params = unpack(w)
        loss, grads, _, _ = head.loss_and_grads(params, features, y)
        loss += lam / 2 * float(np.vdot(params["W1"], params["W1"]))
        return loss, np.concatenate([(grads["W1"] + lam * params["W1"]).ravel(), grads["b1"]])

    result = minimize(objective, np.zeros(split + n_classes), jac=True, method="L-BFGS-B",
                      options={"maxiter": 1000})
    return unpack(result.x)


def predict(params: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """The most probable class (N,) of each row of features (N, F)."""
    head = MLPHead(features.shape[1], (), params["b1"].shape[0])
    return head.log_probabilities(params, features).argmax(axis=1)


def accuracy(params: dict[str, np.ndarray], features: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(params, features) == y))
