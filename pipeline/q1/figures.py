"""Q1 figures: feature grids, cost curves, reconstructions, the search heatmaps and the sweep mosaic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common import figures, io
from pipeline.q1.quality import filter_images

figures.use_agg()
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the Agg backend)


def feature_mosaic(w1: np.ndarray, size: int) -> np.ndarray:
    """(Lin, Lhid) first-layer weights -> one image of Lhid size x size tiles, each scaled on its own."""
    filters = filter_images(w1, size)
    return figures.tile_mosaic(filters, ncols=int(np.ceil(np.sqrt(len(filters)))), each_scaled=True)


def _show(ax, image: np.ndarray, title: str) -> None:
    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def features_figure(w1: np.ndarray, size: int, title: str, path: Path) -> None:
    """The first-layer weight vector of every hidden unit as a size x size tile, in a grid."""
    fig, ax = plt.subplots(figsize=(6, 6.3))
    _show(ax, feature_mosaic(w1, size), title)
    io.save_figure(fig, path)


def curve_figure(curve: pd.DataFrame, unit: str, title: str, path: Path) -> None:
    """Cost and its three terms per step (log scale: the terms differ by orders of magnitude)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for column in ("loss", "mse", "decay", "sparsity"):
        ax.plot(curve["step"], curve[column], label=column)
    ax.set_yscale("log")
    ax.set_xlabel(unit)
    ax.set_ylabel("training-set value")
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    io.save_figure(fig, path)


def reconstructions_figure(inputs: np.ndarray, outputs: np.ndarray, size: int, title: str, path: Path) -> None:
    """Held-out patches (left) beside their reconstructions (right), same layout, one grey scale."""
    ncols = int(np.ceil(np.sqrt(len(inputs))))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5.4))
    for ax, images, name in ((left, inputs, "held-out patches"), (right, outputs, "reconstructions")):
        mosaic = figures.tile_mosaic(images.reshape(-1, size, size), ncols, each_scaled=False)
        _show(ax, mosaic, name)
    fig.suptitle(title, fontsize=10)
    io.save_figure(fig, path)


def heatmaps_figure(table: pd.DataFrame, columns: dict[str, str], path: Path) -> None:
    """One annotated beta x rho heatmap per column of the search table ({column: colormap})."""
    import seaborn as sns

    fig, axes = plt.subplots(1, len(columns), figsize=(4.6 * len(columns), 3.8))
    for ax, (column, cmap) in zip(np.atleast_1d(axes), columns.items(), strict=True):
        grid = table.pivot(index="beta", columns="rho", values=column)
        sns.heatmap(grid, annot=True, fmt=".3g", cmap=cmap, ax=ax, cbar=False)
        ax.set_title(column)
    io.save_figure(fig, path)


def mosaic_grid_figure(panels: dict[tuple[int, int], tuple[np.ndarray, str]], shape: tuple[int, int],
                       title: str, path: Path) -> None:
    """Panels {(row, col): (image, caption)} in a rows x cols grid of feature mosaics."""
    rows, cols = shape
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.8 * rows), squeeze=False)
    for (r, c), (image, caption) in panels.items():
        _show(axes[r, c], image, caption)
    fig.suptitle(title)
    io.save_figure(fig, path)
