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
import typer

from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.data import load_patches
from pipeline.errors import UserError, make_app, run

LUMINOSITY = np.array([0.2126, 0.7152, 0.0722])

app = make_app(__doc__)


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
    atomic.save_figure(fig, path)


@app.command()
def main(
    data: Path = typer.Option(Path("data/raw/data1.h5"), help="data1.h5 (key 'data', N x 3 x 16 x 16)"),
    clip_std: float = typer.Option(3.0, help="params.yaml q1.preprocess.clip_std: clip at +-k sigma"),
    low: float = typer.Option(0.1, help="params.yaml q1.preprocess.low"),
    high: float = typer.Option(0.9, help="params.yaml q1.preprocess.high"),
    sample_size: int = typer.Option(200, help="params.yaml q1.preprocess.sample_size: patches shown"),
    seed: int = typer.Option(0, help="params.yaml q1.preprocess.seed: which patches are shown"),
    out: Path = typer.Option(Path("data/processed/q1_patches.npy"), help="normalised patches (N, h*w)"),
    figure: Path = typer.Option(Path("plots/q1/patches_rgb_vs_normalised.png")),
) -> None:
    """Normalise the data1 patches and draw the RGB vs normalised comparison figure."""
    checks = ParamChecks()
    checks.positive("q1.preprocess.clip_std", clip_std)
    checks.less("q1.preprocess.low", low, "q1.preprocess.high", high)
    checks.positive_int("q1.preprocess.sample_size", sample_size)
    checks.non_negative_int("q1.preprocess.seed", seed)
    checks.done()

    rgb = load_patches(data)
    normalised = normalise(rgb, clip_std, low, high)
    shown = np.sort(np.random.default_rng(seed).choice(len(rgb), size=min(sample_size, len(rgb)), replace=False))
    scale = rgb.max() if rgb.max() > 1 else 1.0  # uint8-range course files display as well
    comparison_figure(rgb[shown] / scale, normalised[shown], figure)
    with atomic.atomic_path(out) as tmp:
        np.save(tmp, normalised)
    print(f"q1_preprocess: {len(rgb)} patches -> {out} (values in [{normalised.min():.3f}, {normalised.max():.3f}])")


if __name__ == "__main__":
    run(app)
