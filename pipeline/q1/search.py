"""Stage q1_search (Q1 b): which sparsity weight beta and target rho give good features?

Trains one network per (beta, rho) of the grid (Lhid = q1.search.hidden, lambda = q1.search.lambda,
L-BFGS limit q1.search.iterations, the other q1 solver settings), then scores each (pipeline.q1.quality):

    eligible  = heldout_r2 >= min_r2     (the code still explains that fraction of the variance of
                                          unseen patches: features that cannot reconstruct are no features)
    chosen    = argmax feature_score over the eligible pairs, feature_score = mean_b L_b C_b
                (localised AND oriented filters: edges, not blobs, ramps or noise)

The grid is searched once per seed of q1.search.seeds (each its own held-out split and initialisation, side by
side on the cores), to show whether another draw picks the same pair. Writes the table of every seed and pair
(results/q1/search/search.csv and .md, with the pair chosen per seed), the heatmaps of feature score, held-out
error and mean rhohat (plots/q1/search/heatmap.png) and every pair's features (plots/q1/search/features.png),
both of the first seed. The first seed's pair is what params.yaml q1.beta and q1.rho should hold (q1_train trains
it with q1.seed).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pandas as pd

from models.autoencoder import SparseAutoencoder
from pipeline.common import io, paths
from pipeline.common.config import Params, load, stage_help
from pipeline.common.document import Paragraph, Table, to_markdown
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.parallel import jobs, map_parallel
from pipeline.common.provenance import write_log
from pipeline.common.staging import outputs
from pipeline.q1 import figures, fit, quality
from pipeline.q1.data import load_split, normalised_patches
from pipeline.q1.params import PATCH_KEYS, SCHEMA

PARAMS = (*PATCH_KEYS, "q1.search", "q1.solver", "q1.lbfgs.log_every", "q1.sgd", "q1.quality")
HEATMAPS = {"feature_score": "viridis", "heldout_r2": "magma", "rho_hat_mean": "cividis"}  # column: colour map

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


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


def search_seed(p: Params, patches: np.ndarray, seed: int) -> tuple[list[dict], dict, dict]:
    """The whole grid with one seed (its held-out split and initialisation): table rows, feature mosaics per grid
    cell (row, column) with captions, and seconds per pair."""
    q1, grid = p.q1, p.q1.search
    settings = dataclasses.replace(fit.SolverSettings.of(q1, grid.iterations), seed=seed)
    split = load_split(patches, q1.holdout, seed, q1.dtype)
    rows, panels, seconds = [], {}, {}
    for r, b in enumerate(grid.beta):
        for c, rho in enumerate(grid.rho):
            model = SparseAutoencoder(split.train.shape[1], grid.hidden, grid.lam, b, rho)
            result = fit.fit(model, split.train, settings, label=f"q1_search seed {seed} beta={b:g} rho={rho:g}")
            numbers = quality.measure(model, result.params, split.train, split.held, split.size, q1.quality.window)
            rows.append({"seed": seed, "beta": b, "rho": rho, **numbers,
                         "rho_gap": abs(numbers["rho_hat_mean"] - rho) / rho})
            seconds[f"seed={seed} beta={b:g} rho={rho:g}"] = round(result.seconds, 2)
            caption = f"beta={b:g}, rho={rho:g}: score {numbers['feature_score']:.3f}"
            panels[(r, c)] = (figures.feature_mosaic(result.params["W1"], split.size), caption)
    return rows, panels, seconds


@app.command(help=HELP)
def main() -> None:
    """Train every (beta, rho) pair of the grid under each search seed and score its features."""
    p = load(SCHEMA, PARAMS)
    q1, grid = p.q1, p.q1.search
    patches = normalised_patches(p.data.data1, q1.preprocess)
    split = load_split(patches, q1.holdout, grid.seeds[0], q1.dtype)
    quality.check_window(q1.quality.window, split.size)
    check_fits("q1.search.hidden", grid.hidden,
               jobs(len(grid.seeds)) * fit.memory_needed(split.train.shape[1], grid.hidden, len(split.train)))
    runs = map_parallel(functools.partial(search_seed, p, patches), grid.seeds)
    tables = [choose(pd.DataFrame(rows), grid.min_r2) for rows, _, _ in runs]
    table = pd.concat(tables, ignore_index=True)
    chosen = [t[t["chosen"]].iloc[0] for t in tables]
    best = chosen[0]
    picks = [(float(c["beta"]), float(c["rho"])) for c in chosen]
    same = len(set(picks)) == 1

    with outputs(paths.Q1_SEARCH_RESULTS, paths.Q1_SEARCH_PLOTS):
        out = paths.Q1_SEARCH_RESULTS
        io.write_csv(out / "search.csv", table)
        steps = f"{grid.iterations} iterations" if q1.solver == "lbfgs" else f"{q1.sgd.epochs} epochs"
        rule = (f"Lhid = {grid.hidden}, lambda = {grid.lam:g}, {q1.solver}, {steps}. Eligible: held-out "
                f"variance explained (heldout_r2) >= {grid.min_r2:g}; chosen: the highest feature_score (mean over "
                "filters of localisation x orientation coherence) among them: "
                f"**beta = {best['beta']:g}, rho = {best['rho']:g}** (seed {grid.seeds[0]}).")
        agreement = ("Chosen per seed (each seed its own held-out split and initialisation): "
                     + ", ".join(f"seed {seed}: beta = {b:g}, rho = {r:g}" for seed, (b, r) in zip(grid.seeds, picks,
                                                                                               strict=True))
                     + (" — the same pair." if same else " — the seeds disagree: the choice depends on the draw."))
        io.write_text(out / "search.md", to_markdown([Paragraph(rule), Paragraph(agreement), Table(table)]))
        figures.heatmaps_figure(tables[0], HEATMAPS, paths.Q1_SEARCH_PLOTS / "heatmap.png")
        figures.mosaic_grid_figure(runs[0][1], (len(grid.beta), len(grid.rho)),
                                   f"features per (beta, rho), Lhid={grid.hidden}, lambda={grid.lam:g}, "
                                   f"seed {grid.seeds[0]}", paths.Q1_SEARCH_PLOTS / "features.png")
    seconds = {key: value for _, _, per_pair in runs for key, value in per_pair.items()}
    write_log("q1_search", train_seconds=round(sum(seconds.values()), 2), per_pair=seconds)
    print(f"q1_search: chosen beta={best['beta']:g} rho={best['rho']:g} "
          f"(feature score {best['feature_score']:.3f}, held-out mse {best['heldout_mse']:.4f}); per seed "
          + ", ".join(f"{seed}: ({b:g}, {r:g})" for seed, (b, r) in zip(grid.seeds, picks, strict=True)))


if __name__ == "__main__":
    run(app)
