"""Shared figure helpers: a headless backend and image mosaics."""

from __future__ import annotations

import numpy as np


def use_agg() -> None:
    """Select matplotlib's file-only backend (no display on CI machines)."""
    import matplotlib

    matplotlib.use("Agg")


def tile_mosaic(images: np.ndarray, ncols: int, each_scaled: bool = True, pad: int = 1) -> np.ndarray:
    """Arrange K images in a grid with `pad` pixels of white between tiles.

    Parameters
    ----------
    images : (K, h, w) grayscale or (K, h, w, 3) RGB.
    ncols : tiles per row; rows = ceil(K / ncols).
    each_scaled : scale every tile to [0, 1] on its own (min -> 0, max -> 1); otherwise the whole set
        shares one scale. A constant tile becomes mid-grey.

    Returns
    -------
    (rows*(h+pad)+pad, ncols*(w+pad)+pad[, 3]) array in [0, 1].
    """
    images = np.asarray(images, dtype=np.float64)
    k, h, w = images.shape[:3]
    axes = tuple(range(1, images.ndim)) if each_scaled else None
    lo = images.min(axis=axes, keepdims=each_scaled)
    span = images.max(axis=axes, keepdims=each_scaled) - lo
    scaled = np.divide(images - lo, span, out=np.full_like(images, 0.5), where=span > 0)
    rows = -(-k // ncols)
    mosaic = np.ones((rows * (h + pad) + pad, ncols * (w + pad) + pad) + images.shape[3:])
    for i, tile in enumerate(scaled):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        mosaic[top : top + h, left : left + w] = tile
    return mosaic
