"""Stage q1_train (Q1 b-c): train the chosen sparse autoencoder and show its features.

Writes the network (artifacts/q1/train/model.npz), and into plots/q1/train/ the first-layer features
(features.png), the cost and its three terms per step (curve.csv and curve.png) and held-out patches beside
their reconstructions (reconstructions.png); and metrics/q1.json (see pipeline.q1.quality.measure,
plus train_seconds and steps).
"""

from __future__ import annotations

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.q1 import figures, fit, quality
from pipeline.q1.data import load_split, save_network
from pipeline.q1.params import SCHEMA

PARAMS = ("q1.hidden", "q1.lambda", "q1.beta", "q1.rho", "q1.solver", "q1.dtype", "q1.seed", "q1.holdout",
          "q1.lbfgs", "q1.sgd", "q1.quality", "q1.shown")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


@app.command(help=HELP)
def main() -> None:
    """Train one network on the training patches; measure it on the held-out patches."""
    q1 = load(SCHEMA, PARAMS).q1
    split = load_split(paths.PATCHES, q1.holdout, q1.seed, q1.dtype)
    quality.check_window(q1.quality.window, split.size)
    model = SparseAutoencoder(split.train.shape[1], q1.hidden, q1.lam, q1.beta, q1.rho)
    result = fit.fit(model, split.train, fit.SolverSettings.of(q1, q1.lbfgs.iterations), label="q1_train")
    numbers = quality.measure(model, result.params, split.train, split.held, split.size, q1.quality.window)
    numbers.update(train_seconds=round(result.seconds, 2), steps=result.steps)

    plots = paths.Q1_TRAIN_PLOTS
    save_network(paths.Q1_TRAIN_ARTIFACTS / paths.MODEL, model, result.params)
    io.write_csv(plots / paths.CURVE, result.curve)
    title = f"Lhid={q1.hidden}, lambda={q1.lam:g}, beta={q1.beta:g}, rho={q1.rho:g} ({q1.solver})"
    figures.features_figure(result.params["W1"], split.size, f"first-layer features, {title}",
                            plots / "features.png")
    unit = "L-BFGS iteration" if q1.solver == "lbfgs" else "epoch"
    figures.curve_figure(result.curve, unit, f"training cost, {title}", plots / "curve.png")
    shown_rows = split.held[: min(q1.shown, len(split.held))].astype(np.float64)
    figures.reconstructions_figure(shown_rows, model.predict(result.params, shown_rows), split.size, title,
                                   plots / "reconstructions.png")
    io.write_json(paths.Q1_METRICS, numbers)
    print(
        f"q1_train: held-out mse {numbers['heldout_mse']:.4f}, rho_hat {numbers['rho_hat_mean']:.4f}"
        f" +- {numbers['rho_hat_std']:.4f}, feature score {numbers['feature_score']:.3f}, {result.seconds:.1f}s"
    )


if __name__ == "__main__":
    run(app)
