"""Stage q1_sweep (Q1 d), one configuration of the Lhid x lambda matrix: train it, save its features.

beta and rho are fixed (params.yaml q1.beta, q1.rho: the search's choice). For configuration
name = h<hidden>_l<lambda> (the values' text as DVC writes `h${item.hidden}_l${item.lambda}`) it writes
artifacts/q1/sweep/<name>.npz, plots/q1/sweep/<name>_features.png, plots/q1/sweep/<name>_curve.csv and
results/q1/sweep/<name>.json (pipeline.q1_quality.measure plus hidden, lambda, beta, rho, train_seconds,
steps). pipeline.q1_sweep_summary combines the grid.
"""

from __future__ import annotations

from pathlib import Path

import typer

from models.autoencoder import SparseAutoencoder
from pipeline import atomic, q1_fit, q1_plots, q1_quality
from pipeline.checks import ParamChecks
from pipeline.errors import make_app, run
from pipeline.q1_data import load_split, save_network

app = make_app(__doc__)


def config_name(hidden: str, lam: str) -> str:
    """File stem of one configuration from the text of its values, e.g. ('50', '0.0005') -> 'h50_l0.0005'."""
    return f"h{hidden}_l{lam}"


def parse_number(text: str) -> float | str:
    """float(text), or the text itself when it is not a number (ParamChecks then reports it)."""
    try:
        return float(text)
    except ValueError:
        return text


@app.command()
def main(
    patches: Path = typer.Option(Path("data/processed/q1_patches.npy"), help="q1_preprocess output"),
    hidden: int = typer.Option(..., help="one value of params.yaml q1.sweep.hidden"),
    lam: str = typer.Option(..., "--lambda", help="one value of params.yaml q1.sweep.lambda (its text names files)"),
    beta: float = typer.Option(3.0, help="params.yaml q1.beta"),
    rho: float = typer.Option(0.01, help="params.yaml q1.rho"),
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
    artifacts: Path = typer.Option(Path("artifacts/q1/sweep"), help="folder of <name>.npz"),
    plots: Path = typer.Option(Path("plots/q1/sweep"), help="folder of <name>_features.png and <name>_curve.csv"),
    results: Path = typer.Option(Path("results/q1/sweep"), help="folder of <name>.json"),
) -> None:
    """Train the configuration (hidden, lambda) with the chosen beta and rho."""
    settings = q1_fit.SolverSettings(solver, dtype, seed, iterations, log_every, epochs, batch_size, lr, momentum)
    checks = ParamChecks()
    lam_value = parse_number(lam)
    checks.positive_int("q1.sweep.hidden", hidden)
    checks.non_negative("q1.sweep.lambda", lam_value)
    checks.non_negative("q1.beta", beta)
    checks.open_unit("q1.rho", rho)
    settings.check(checks)
    checks.open_unit("q1.holdout", holdout)
    checks.positive_int("q1.quality.window", window)
    checks.done()

    split = load_split(patches, holdout, seed, dtype)
    q1_quality.check_window(window, split.size)
    name = config_name(str(hidden), lam)
    model = SparseAutoencoder(split.train.shape[1], hidden, lam_value, beta, rho)
    result = q1_fit.fit(model, split.train, settings, label=f"q1_sweep {name}")
    numbers = q1_quality.measure(model, result.params, split.train, split.held, split.size, window)
    numbers.update(hidden=hidden, lam=lam_value, beta=beta, rho=rho, train_seconds=round(result.seconds, 2),
                   steps=result.steps)

    save_network(artifacts / f"{name}.npz", model, result.params)
    atomic.write_csv(plots / f"{name}_curve.csv", result.curve)
    q1_plots.features_figure(result.params["W1"], split.size,
                             f"Lhid={hidden}, lambda={lam_value:g} (beta={beta:g}, rho={rho:g})",
                             plots / f"{name}_features.png")
    atomic.write_json(results / f"{name}.json", numbers)
    print(f"q1_sweep {name}: held-out r2 {numbers['heldout_r2']:.3f}, feature score {numbers['feature_score']:.3f}, "
          f"{result.seconds:.1f}s")


if __name__ == "__main__":
    run(app)
