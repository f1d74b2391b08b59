"""Shared figure helpers: a headless backend, image mosaics and per-epoch training curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common import io


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


def epoch_curve_figure(curve: pd.DataFrame, panels: Sequence[tuple[str, str]], title: str, best_epoch: int,
                       path: Path, others: Sequence[pd.DataFrame] = ()) -> None:
    """Training (solid) vs validation (dashed) per epoch, one panel per (column, y label), best epoch dotted.

    `curve` has an "epoch" column and, for every panel column c, "train_<c>" and "val_<c>" (one row per epoch).
    `others`: curves of the same network trained with other seeds, their validation lines drawn thin and grey.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(11, 4))
    for i, other in enumerate(others):
        for ax, (column, _) in zip(axes, panels, strict=True):
            ax.plot(other["epoch"], other[f"val_{column}"], color="grey", lw=0.7, alpha=0.6,
                    label="validation, other seeds" if i == 0 else None)
    for split, style, label in (("train", "-", "training"), ("val", "--", "validation")):
        for ax, (column, _) in zip(axes, panels, strict=True):
            ax.plot(curve["epoch"], curve[f"{split}_{column}"], style, label=label)
    for ax, (_, ylabel) in zip(axes, panels, strict=True):
        ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"best epoch {best_epoch}")
        epoch_axes(ax, ylabel)
    fig.suptitle(title)
    io.save_figure(fig, path)


def epoch_axes(ax, ylabel: str) -> None:
    """Finish a per-epoch panel: x label "epoch", the y label, a light grid and the legend."""
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
