"""Random transforms of Q3 training windows, so a classifier sees the variation between people it has not met:
the phone's orientation (a small random 3-D rotation of the acceleration vector), the strength of the movement
(scaling of each window's deviation from its mean) and sensor noise (jitter). Applied to each training
mini-batch by models.trainer.train; validation and test windows are never transformed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.contract import Batch


def rotations(angles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, 3) rotation matrices by `angles` (N,) radians about axes drawn uniformly on the sphere (Rodrigues)."""
    axis = rng.standard_normal((len(angles), 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    k = np.zeros((len(angles), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k -= k.transpose(0, 2, 1)
    sin, cos = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3) + sin * k + (1 - cos) * (k @ k)


@dataclass(frozen=True)
class Augmenter:
    """Transforms standardised windows x (N, T, 3) in the units of the raw data (x * std + mean):

    rotation: largest rotation angle in degrees (uniform in [-rotation, rotation] about a random axis);
    scale: each window's deviation from its own mean is multiplied by a factor uniform in [1 - scale, 1 + scale];
    jitter: standard deviation of Gaussian noise added afterwards, in standardised units.
    All zero: the batch is returned unchanged.
    """

    rotation: float
    scale: float
    jitter: float
    mean: np.ndarray
    std: np.ndarray
    rng: np.random.Generator

    @property
    def active(self) -> bool:
        return bool(self.rotation or self.scale or self.jitter)

    def __call__(self, batch: Batch) -> Batch:
        x, *rest = batch
        if not self.active:
            return batch
        n = len(x)
        raw = x * self.std + self.mean
        if self.rotation:
            angles = np.deg2rad(self.rng.uniform(-self.rotation, self.rotation, n))
            raw = np.einsum("nij,ntj->nti", rotations(angles, self.rng), raw)
        if self.scale:
            centre = raw.mean(axis=1, keepdims=True)
            raw = centre + self.rng.uniform(1 - self.scale, 1 + self.scale, (n, 1, 1)) * (raw - centre)
        out = (raw - self.mean) / self.std
        if self.jitter:
            out = out + self.jitter * self.rng.standard_normal(out.shape)
        return (out.astype(x.dtype), *rest)
