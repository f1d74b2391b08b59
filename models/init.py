"""Initialisers drawing from an explicit `numpy.random.Generator`."""

from __future__ import annotations

import numpy as np


def uniform_glorot(
    rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int, dtype: type = np.float64
) -> np.ndarray:
    """Uniform in [-w0, w0], w0 = sqrt(6 / (L_pre + L_post)) (Q1's rule; Xavier-uniform for Q3)."""
    w0 = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-w0, w0, size=shape).astype(dtype)


def gaussian(rng: np.random.Generator, shape: tuple[int, ...], std: float, dtype: type = np.float64) -> np.ndarray:
    """Normal(0, std^2) entries (Q2's rule, std = 0.01)."""
    return (rng.standard_normal(size=shape) * std).astype(dtype)
