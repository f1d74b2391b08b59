"""Stage q1_preprocess (Q1 a): RGB patches -> normalised grayscale patches in [low, high].

    Y = 0.2126 R + 0.7152 G + 0.0722 B            (luminosity)
    Y <- Y - mean(Y over the patch)               (per-patch mean removal)
    sigma = std of all mean-removed pixels of the data set
    Y <- clip(Y, -k sigma, +k sigma)
    Y <- low + (Y + k sigma) / (2 k sigma) * (high - low)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import UserError, make_app, run
from pipeline.q1.data import load_patches
from pipeline.q1.params import SCHEMA

LUMINOSITY = np.array([0.2126, 0.7152, 0.0722])
PARAMS = ("data.data1", "q1.preprocess")
FIGURE = paths.Q1_PREPROCESS_PLOTS / "patches_rgb_vs_normalised.png"

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def normalise(rgb: np.ndarray, clip_std: float, low: float, high: float) -> np.ndarray:
    """(N, 3, h, w) RGB patches -> (N, h*w) normalised grayscale rows (row-major), values in [low, high].

    Raises UserError when every pixel of the data set equals its patch mean (sigma = 0): then the
    mapping is undefined. Individual constant patches are fine: they map to (low + high) / 2.
    """
    gray = np.tensordot(LUMINOSITY, rgb, axes=(0, 1)).reshape(len(rgb), -1)
    gray -= gray.mean(axis=1, keepdims=True)
    sigma = gray.std()
    if not sigma > 0:
        raise UserError("data1: every patch is constant (pixel std is 0), nothing to normalise")
    bound = clip_std * sigma
    np.clip(gray, -bound, bound, out=gray)
    return low + (gray + bound) / (2 * bound) * (high - low)


def comparison_figure(rgb: np.ndarray, normalised: np.ndarray, path: Path) -> None:
    """Side by side: the sampled RGB patches and the same patches normalised (shared grey scale)."""
    import matplotlib.pyplot as plt

    ncols = int(np.ceil(np.sqrt(len(rgb) * 2)))  # about square panels
    size = rgb.shape[-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 7.5))
    left.imshow(figures.tile_mosaic(np.moveaxis(rgb, 1, 3), ncols, each_scaled=False), interpolation="nearest")
    left.set_title(f"{len(rgb)} random patches (RGB)")
    gray = normalised.reshape(-1, size, size)
    right.imshow(figures.tile_mosaic(gray, ncols, each_scaled=False), cmap="gray", vmin=0, vmax=1,
                 interpolation="nearest")
    right.set_title("the same patches, normalised grayscale")
    for ax in (left, right):
        ax.axis("off")
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Normalise the data1 patches and draw the RGB vs normalised comparison figure."""
    p = load(SCHEMA, PARAMS)
    pre = p.q1.preprocess
    rgb = load_patches(p.data.data1)
    normalised = normalise(rgb, pre.clip_std, pre.low, pre.high)
    rng = np.random.default_rng(pre.seed)
    shown = np.sort(rng.choice(len(rgb), size=min(pre.sample_size, len(rgb)), replace=False))
    scale = rgb.max() if rgb.max() > 1 else 1.0  # uint8-range course files display as well
    comparison_figure(rgb[shown] / scale, normalised[shown], FIGURE)
    with io.atomic_path(paths.PATCHES) as tmp:
        np.save(tmp, normalised)
    print(f"q1_preprocess: {len(rgb)} patches -> {paths.PATCHES} "
          f"(values in [{normalised.min():.3f}, {normalised.max():.3f}])")


if __name__ == "__main__":
    run(app)
