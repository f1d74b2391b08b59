"""Stage q1_search (Q1 b): which sparsity weight beta and target rho give good features?

Trains one network per (beta, rho) of the grid (Lhid = q1.search.hidden, lambda = q1.search.lambda,
L-BFGS limit q1.search.iterations, the other q1 solver settings), then scores each (pipeline.q1_quality):

    eligible  = heldout_r2 >= min_r2     (the code still explains that fraction of the variance of
                                          unseen patches: features that cannot reconstruct are no features)
    chosen    = argmax feature_score over the eligible pairs, feature_score = mean_b L_b C_b
                (localised AND oriented filters: edges, not blobs, ramps or noise)

Writes the table (results/q1/search.csv and .md), the heatmaps of feature score, held-out error and
mean rhohat (plots/q1/search_heatmap.png) and every pair's features (plots/q1/search_features.png).
The chosen pair is what params.yaml q1.beta and q1.rho should hold (q1_train trains it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import typer

from models.autoencoder import SparseAutoencoder
from pipeline import atomic, q1_fit, q1_plots, q1_quality
from pipeline.checks import ParamChecks
from pipeline.document import Paragraph, Table, to_markdown
from pipeline.errors import UserError, make_app, run
from pipeline.nargs import expand_nargs
from pipeline.q1_data import load_split

app = make_app(__doc__)
LIST_OPTIONS = ("--beta", "--rho")


def choose(table: pd.DataFrame, min_r2: float) -> pd.DataFrame:
    """Add 'eligible' and 'chosen' columns to a table with heldout_r2 and feature_score per row.

    Raises UserError when no pair is eligible (min_r2 too strict for the grid).
    """
    table = table.copy()
    table["eligible"] = table["heldout_r2"] >= min_r2
    if not table["eligible"].any():
        raise UserError(
            f"params.yaml q1.search.min_r2 = {min_r2!r}: no (beta, rho) pair reaches it "
            f"(best held-out r2 {table['heldout_r2'].max():.3f}); lower it or change the grid"
        )
    best = table.loc[table["eligible"], "feature_score"].idxmax()
    table["chosen"] = table.index == best
    return table


@app.command()
def main(
    patches: Path = typer.Option(Path("data/processed/q1_patches.npy"), help="q1_preprocess output"),
    hidden: int = typer.Option(64, help="params.yaml q1.search.hidden: Lhid of the search"),
    lam: float = typer.Option(5e-4, "--lambda", help="params.yaml q1.search.lambda: weight decay of the search"),
    beta: list[float] = typer.Option(..., help="params.yaml q1.search.beta: the beta grid (repeat the option)"),
    rho: list[float] = typer.Option(..., help="params.yaml q1.search.rho: the rho grid (repeat the option)"),
    min_r2: float = typer.Option(
        0.5, "--min_r2", help="params.yaml q1.search.min_r2: eligible if held-out variance explained >= this"
    ),
    solver: str = q1_fit.SOLVER_OPTION,
    dtype: str = q1_fit.DTYPE_OPTION,
    seed: int = q1_fit.SEED_OPTION,
    holdout: float = q1_fit.HOLDOUT_OPTION,
    iterations: int = typer.Option(200, help="params.yaml q1.search.iterations: L-BFGS limit of the search"),
    log_every: int = q1_fit.LOG_EVERY_OPTION,
    epochs: int = q1_fit.EPOCHS_OPTION,
    batch_size: int = q1_fit.BATCH_SIZE_OPTION,
    lr: float = q1_fit.LR_OPTION,
    momentum: float = q1_fit.MOMENTUM_OPTION,
    window: int = q1_quality.WINDOW_OPTION,
    table_out: Path = typer.Option(Path("results/q1/search"), help="writes <this>.csv and <this>.md"),
    heatmap: Path = typer.Option(Path("plots/q1/search_heatmap.png")),
    features: Path = typer.Option(Path("plots/q1/search_features.png")),
) -> None:
    """Train every (beta, rho) pair of the grid and score its features."""
    settings = q1_fit.SolverSettings(solver, dtype, seed, iterations, log_every, epochs, batch_size, lr, momentum)
    checks = ParamChecks()
    checks.positive_int("q1.search.hidden", hidden)
    checks.non_negative("q1.search.lambda", lam)
    checks.each(checks.non_negative, "q1.search.beta", beta)
    checks.each(checks.open_unit, "q1.search.rho", rho)
    checks.distinct("q1.search.beta", beta)
    checks.distinct("q1.search.rho", rho)
    checks.open_unit("q1.search.min_r2", min_r2)
    settings.check(checks, iterations_key="q1.search.iterations")
    checks.open_unit("q1.holdout", holdout)
    checks.positive_int("q1.quality.window", window)
    checks.done()

    split = load_split(patches, holdout, seed, dtype)
    q1_quality.check_window(window, split.size)
    rows, panels = [], {}
    for r, b in enumerate(beta):
        for c, p in enumerate(rho):
            model = SparseAutoencoder(split.train.shape[1], hidden, lam, b, p)
            result = q1_fit.fit(model, split.train, settings, label=f"q1_search beta={b:g} rho={p:g}")
            numbers = q1_quality.measure(model, result.params, split.train, split.held, split.size, window)
            rows.append({"beta": b, "rho": p, **numbers, "rho_gap": abs(numbers["rho_hat_mean"] - p) / p,
                         "seconds": round(result.seconds, 2)})
            caption = f"beta={b:g}, rho={p:g}: score {numbers['feature_score']:.3f}"
            panels[(r, c)] = (q1_plots.feature_mosaic(result.params["W1"], split.size), caption)
    table = choose(pd.DataFrame(rows), min_r2)
    best = table[table["chosen"]].iloc[0]

    atomic.write_csv(table_out.with_suffix(".csv"), table)
    rule = (f"Lhid = {hidden}, lambda = {lam:g}, {solver}, {iterations if solver == 'lbfgs' else epochs} "
            f"{'iterations' if solver == 'lbfgs' else 'epochs'}. Eligible: held-out variance explained "
            f"(heldout_r2) >= {min_r2:g}; chosen: the highest feature_score (mean over filters of localisation x "
            f"orientation coherence) among them: **beta = {best['beta']:g}, rho = {best['rho']:g}**.")
    atomic.write_text(table_out.with_suffix(".md"), to_markdown([Paragraph(rule), Table(table)]))
    q1_plots.heatmaps_figure(table, {"feature_score": "viridis", "heldout_r2": "magma", "rho_hat_mean": "cividis"},
                             heatmap)
    q1_plots.mosaic_grid_figure(panels, (len(beta), len(rho)),
                                f"features per (beta, rho), Lhid={hidden}, lambda={lam:g}", features)
    print(f"q1_search: chosen beta={best['beta']:g} rho={best['rho']:g} "
          f"(feature score {best['feature_score']:.3f}, held-out mse {best['heldout_mse']:.4f})")


if __name__ == "__main__":
    sys.argv[1:] = expand_nargs(sys.argv[1:], LIST_OPTIONS)
    run(app)
