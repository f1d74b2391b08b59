"""Stage q1_train (Q1 b-c): train the chosen sparse autoencoder and show its features.

Writes the network (artifacts/q1/train/model.npz), and into plots/q1/train/ the first-layer features
(features.png), the cost and its three terms per step (curve.csv and curve.png) and held-out patches beside
their reconstructions (reconstructions.png); results/q1/train/result.json (pipeline.q1.quality.measure plus
the steps taken) and metrics/q1.json (its headline numbers). The training time goes to logs/q1_train.json.
"""

from __future__ import annotations

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.provenance import write_log
from pipeline.common.staging import outputs
from pipeline.q1 import figures, fit, quality
from pipeline.q1.data import save_network, training_split
from pipeline.q1.params import FIT_KEYS, PATCH_KEYS, SCHEMA

PARAMS = (*PATCH_KEYS, "q1.hidden", "q1.lambda", "q1.beta", "q1.rho", *FIT_KEYS, "q1.shown")
HEADLINE = ("feature_score", "heldout_r2", "final_loss", "rho_hat_mean")  # metrics/q1.json; the rest in results/

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


@app.command(help=HELP)
def main() -> None:
    """Train one network on the training patches; measure it on the held-out patches."""
    p = load(SCHEMA, PARAMS)
    q1 = p.q1
    split = training_split(p)
    quality.check_window(q1.quality.window, split.size)
    check_fits("q1.hidden", q1.hidden, fit.memory_needed(split.train.shape[1], q1.hidden, len(split.train)))
    model = SparseAutoencoder(split.train.shape[1], q1.hidden, q1.lam, q1.beta, q1.rho)
    result = fit.fit(model, split.train, fit.SolverSettings.of(q1, q1.lbfgs.iterations), label="q1_train")
    numbers = quality.measure(model, result.params, split.train, split.held, split.size, q1.quality.window)
    numbers.update(steps=result.steps)

    plots = paths.Q1_TRAIN_PLOTS
    with outputs(paths.Q1_TRAIN_ARTIFACTS, paths.Q1_TRAIN_RESULTS, plots, paths.Q1_METRICS):
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
        io.write_json(paths.Q1_TRAIN_RESULTS / paths.RESULT, numbers)
        io.write_json(paths.Q1_METRICS, {"autoencoder": {key: numbers[key] for key in HEADLINE}})
    write_log("q1_train", train_seconds=round(result.seconds, 2))
    print(
        f"q1_train: held-out mse {numbers['heldout_mse']:.4f}, rho_hat {numbers['rho_hat_mean']:.4f}"
        f" +- {numbers['rho_hat_std']:.4f}, feature score {numbers['feature_score']:.3f}, {result.seconds:.1f}s"
    )


if __name__ == "__main__":
    run(app)
