"""Stage q1_preprocess (Q1 a): how the normalisation (pipeline.q1.data.normalise) changes the patches.

Writes plots/q1/preprocess/patches_rgb_vs_normalised.png (sample_size random patches in RGB beside the same
patches normalised) and results/q1/preprocess/summary.json (patch count, share of pixels at a clip bound,
mean and std of the normalised values). The training stages normalise data1 themselves (a few seconds), so no
large intermediate file is kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.staging import outputs
from pipeline.q1.data import load_patches, normalise
from pipeline.q1.params import SCHEMA

PARAMS = ("data.data1", "q1.preprocess")
FIGURE = paths.Q1_PREPROCESS_PLOTS / "patches_rgb_vs_normalised.png"

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


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
    at_bounds = np.mean((normalised <= pre.low + 1e-9) | (normalised >= pre.high - 1e-9))
    summary = {"patches": len(rgb), "size": rgb.shape[-1], "at_clip_bound": float(at_bounds),
               "mean": float(normalised.mean()), "std": float(normalised.std())}
    with outputs(paths.Q1_PREPROCESS_PLOTS, paths.Q1_PREPROCESS_RESULTS):
        comparison_figure(rgb[shown] / scale, normalised[shown], FIGURE)
        io.write_json(paths.Q1_PREPROCESS_RESULTS / "summary.json", summary)
    print(f"q1_preprocess: {len(rgb)} patches, values in [{normalised.min():.3f}, {normalised.max():.3f}], "
          f"{100 * at_bounds:.1f} % at a clip bound")


if __name__ == "__main__":
    run(app)
