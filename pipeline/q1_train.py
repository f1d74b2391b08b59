"""Stage q1_train (Q1 b-c): train the chosen sparse autoencoder and show its features.

Writes the network (artifacts/q1/ae.npz), the first-layer features (plots/q1/features.png), the cost
and its three terms per step (plots/q1/curve.csv and curve.png), held-out patches beside their
reconstructions (plots/q1/reconstructions.png) and metrics/q1.json (see pipeline.q1_quality.measure,
plus train_seconds and steps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from models.autoencoder import SparseAutoencoder
from pipeline import atomic, q1_fit, q1_plots, q1_quality
from pipeline.checks import ParamChecks
from pipeline.errors import make_app, run
from pipeline.q1_data import load_split, save_network

app = make_app(__doc__)


@app.command()
def main(
    patches: Path = typer.Option(Path("data/processed/q1_patches.npy"), help="q1_preprocess output (N, size^2)"),
    hidden: int = typer.Option(64, help="params.yaml q1.hidden: Lhid"),
    lam: float = typer.Option(5e-4, "--lambda", help="params.yaml q1.lambda: weight decay"),
    beta: float = typer.Option(3.0, help="params.yaml q1.beta: sparsity weight"),
    rho: float = typer.Option(0.01, help="params.yaml q1.rho: target mean hidden activation"),
    solver: str = q1_fit.SOLVER_OPTION,
    dtype: str = q1_fit.DTYPE_OPTION,
    seed: int = q1_fit.SEED_OPTION,
    holdout: float = q1_fit.HOLDOUT_OPTION,
    iterations: int = q1_fit.ITERATIONS_OPTION,
    log_every: int = q1_fit.LOG_EVERY_OPTION,
    epochs: int = q1_fit.EPOCHS_OPTION,
    batch_size: int = q1_fit.BATCH_SIZE_OPTION,
    lr: float = q1_fit.LR_OPTION,
    momentum: float = q1_fit.MOMENTUM_OPTION,
    window: int = q1_quality.WINDOW_OPTION,
    shown: int = typer.Option(36, help="params.yaml q1.shown: held-out patches in the reconstruction figure"),
    model_out: Path = typer.Option(Path("artifacts/q1/ae.npz")),
    metrics: Path = typer.Option(Path("metrics/q1.json")),
    plots: Path = typer.Option(Path("plots/q1"), help="folder of features.png, curve.csv/png, reconstructions.png"),
) -> None:
    """Train one network on the training patches; measure it on the held-out patches."""
    settings = q1_fit.SolverSettings(solver, dtype, seed, iterations, log_every, epochs, batch_size, lr, momentum)
    checks = ParamChecks()
    checks.positive_int("q1.hidden", hidden)
    checks.non_negative("q1.lambda", lam)
    checks.non_negative("q1.beta", beta)
    checks.open_unit("q1.rho", rho)
    settings.check(checks)
    checks.open_unit("q1.holdout", holdout)
    checks.positive_int("q1.quality.window", window)
    checks.positive_int("q1.shown", shown)
    checks.done()

    split = load_split(patches, holdout, seed, dtype)
    q1_quality.check_window(window, split.size)
    model = SparseAutoencoder(split.train.shape[1], hidden, lam, beta, rho)
    result = q1_fit.fit(model, split.train, settings, label="q1_train")
    numbers = q1_quality.measure(model, result.params, split.train, split.held, split.size, window)
    numbers.update(train_seconds=round(result.seconds, 2), steps=result.steps)

    save_network(model_out, model, result.params)
    atomic.write_csv(plots / "curve.csv", result.curve)
    title = f"Lhid={hidden}, lambda={lam:g}, beta={beta:g}, rho={rho:g} ({solver})"
    q1_plots.features_figure(result.params["W1"], split.size, f"first-layer features, {title}", plots / "features.png")
    unit = "L-BFGS iteration" if solver == "lbfgs" else "epoch"
    q1_plots.curve_figure(result.curve, unit, f"training cost, {title}", plots / "curve.png")
    shown_rows = split.held[: min(shown, len(split.held))].astype(np.float64)
    q1_plots.reconstructions_figure(shown_rows, model.predict(result.params, shown_rows), split.size, title,
                                    plots / "reconstructions.png")
    atomic.write_json(metrics, numbers)
    print(
        f"q1_train: held-out mse {numbers['heldout_mse']:.4f}, rho_hat {numbers['rho_hat_mean']:.4f}"
        f" +- {numbers['rho_hat_std']:.4f}, feature score {numbers['feature_score']:.3f}, {result.seconds:.1f}s"
    )


if __name__ == "__main__":
    run(app)
