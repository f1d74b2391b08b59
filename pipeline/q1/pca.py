"""The PCA baseline of Q1: how much held-out patch variance k principal components of the training patches explain.

The linear counterpart of an autoencoder with k hidden units: centre the training patches, take their first k right
singular vectors V_k, reconstruct a held-out patch x as m + (x - m) V_k V_k^T (m the mean training patch), and
score it like the network: heldout_r2 = 1 - mse / mse of the mean patch, mse = 1/(2N) sum ||x - recon||^2.
"""

from __future__ import annotations

import numpy as np


def heldout_r2(train: np.ndarray, held: np.ndarray, components: list[int]) -> dict[int, float]:
    """{k: held-out variance explained by the first k principal components} for each k of `components`."""
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    centred = held - mean
    baseline = float(np.vdot(centred, centred))
    scores = {}
    for k in components:
        basis = vt[:k]
        residual = centred - (centred @ basis.T) @ basis
        scores[k] = 1 - float(np.vdot(residual, residual)) / baseline
    return scores
