"""How good are a sparse autoencoder's features? Measures used by the search, the training and the sweep.

Per hidden unit b, its filter F_b = W1[:, b] as a size x size image, minus its own mean (patches are
mean-removed, so a constant added to a filter only shifts the unit's bias):

- localisation L_b: the largest fraction of the filter's energy inside any window x window square,

      L_b = max_window sum_{window} F_b^2 / sum F_b^2        (window^2 / size^2 for spread-out filters)

- orientation coherence C_b of the structure tensor S = sum_pixels grad F grad F^T (eigenvalues l1 >= l2),

      C_b = ((l1 - l2) / (l1 + l2))^2 = ((Sxx - Syy)^2 + 4 Sxy^2) / (Sxx + Syy)^2

  1 for a straight edge or a grating, 0 for an isotropic blob or white noise.

- feature score = mean_b L_b C_b: high only for localised AND oriented filters (edges, Gabor-like);
  global ramps (oriented, not localised), blobs (localised, not oriented) and noise score low.
"""

from __future__ import annotations

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline.common.errors import UserError


def check_window(window: int, size: int) -> None:
    """UserError unless 1 <= window <= size (checked once the patch size is known)."""
    if not 1 <= window <= size:
        raise UserError(f"params.yaml q1.quality.window = {window!r}: must be in 1..{size} (the patch side)")


def filter_images(w1: np.ndarray, size: int) -> np.ndarray:
    """(Lin, Lhid) first-layer weights -> (Lhid, size, size) filters, each minus its own mean."""
    images = np.asarray(w1, dtype=np.float64).T.reshape(-1, size, size)
    return images - images.mean(axis=(1, 2), keepdims=True)


def localisation(filters: np.ndarray, window: int) -> np.ndarray:
    """(K, s, s) -> (K,) largest energy fraction in a window x window square (integral image)."""
    energy = filters**2
    integral = np.zeros((len(filters), energy.shape[1] + 1, energy.shape[2] + 1))
    integral[:, 1:, 1:] = energy.cumsum(axis=1).cumsum(axis=2)
    w = window
    boxes = integral[:, w:, w:] - integral[:, :-w, w:] - integral[:, w:, :-w] + integral[:, :-w, :-w]
    total = energy.sum(axis=(1, 2))
    return np.divide(boxes.max(axis=(1, 2)), total, out=np.zeros_like(total), where=total > 0)


def coherence(filters: np.ndarray) -> np.ndarray:
    """(K, s, s) -> (K,) structure-tensor orientation coherence in [0, 1]."""
    gy, gx = np.gradient(filters, axis=(1, 2))
    sxx, syy, sxy = (gx * gx).sum(axis=(1, 2)), (gy * gy).sum(axis=(1, 2)), (gx * gy).sum(axis=(1, 2))
    trace = sxx + syy
    return np.divide((sxx - syy) ** 2 + 4 * sxy**2, trace**2, out=np.zeros_like(trace), where=trace > 0)


def measure(
    model: SparseAutoencoder, params: dict[str, np.ndarray], train: np.ndarray, held: np.ndarray, size: int,
    window: int,
) -> dict[str, float]:
    """Flat numbers of a fitted network.

    final_loss/mse/decay/sparsity: the cost terms on the whole training set; heldout_mse: the mse
    term 1/(2N) sum ||x - o||^2 on the held-out patches; heldout_r2: the fraction of held-out variance
    explained, 1 - heldout_mse / (1/(2N) sum ||x - mean training patch||^2); rho_hat_mean/std: mean and
    spread over hidden units of rhohat_b on the training set; localisation, coherence, feature_score:
    see the module doc.
    """
    terms = model.evaluate(params, (train,))
    heldout_mse = model.evaluate(params, (held,))["mse"]
    centred = held - train.mean(axis=0)
    baseline = float(np.vdot(centred, centred)) / (2 * len(held))
    rhohat = model.hidden(params, train).mean(axis=0)
    filters = filter_images(params["W1"], size)
    loc, coh = localisation(filters, window), coherence(filters)
    return {
        "final_loss": terms["loss"],
        "final_mse": terms["mse"],
        "final_decay": terms["decay"],
        "final_sparsity": terms["sparsity"],
        "heldout_mse": heldout_mse,
        "heldout_r2": 1 - heldout_mse / baseline,
        "rho_hat_mean": float(rhohat.mean()),
        "rho_hat_std": float(rhohat.std()),
        "localisation": float(loc.mean()),
        "coherence": float(coh.mean()),
        "feature_score": float((loc * coh).mean()),
    }
