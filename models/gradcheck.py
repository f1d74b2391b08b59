"""Central finite-difference gradient check for any model of the library (float64)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from models.contract import Batch, Params


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||) over the whole array (0 when both are 0).

    Norm-wise rather than entry-wise, so entries whose true gradient is ~0 do not turn the
    finite-difference rounding noise (~1e-10) into a large ratio.
    """
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / denom) if denom > 0 else 0.0


def numeric_gradient(f: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """(f(theta + eps) - f(theta - eps)) / (2 eps) for every entry of `array`, perturbed in place."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(
    loss_and_grads: Callable[[Params, Batch], tuple[float, Params]],
    params: Params,
    batch: Batch,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Worst relative error of the analytic gradient of every parameter against central differences."""
    _, grads = loss_and_grads(params, batch)
    errors = {}
    for name, array in params.items():
        numeric = numeric_gradient(lambda: loss_and_grads(params, batch)[0], array, eps)
        errors[name] = relative_error(grads[name], numeric)
    return errors
