"""Stage q1_sweep_summary (Q1 d): the Lhid x lambda grid in one figure and one table.

The grid is params.yaml q1.sweep, in its order (rows lambda, columns Lhid); each configuration is found by its
values in results/q1/sweep/*/result.json (written by q1_sweep), so a shrunk grid does not pick up stale results
and a missing one is an error. Writes plots/q1/sweep_summary/features.png and results/q1/sweep_summary/sweep.csv
and sweep.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Paragraph, Table, to_markdown
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.readers import read_json
from pipeline.common.staging import outputs
from pipeline.q1 import figures
from pipeline.q1.data import load_network
from pipeline.q1.params import SCHEMA

PARAMS = ("q1.sweep",)
COLUMNS = ["hidden", "lambda", "heldout_mse", "heldout_r2", "rho_hat_mean", "rho_hat_std", "localisation",
           "coherence", "feature_score", "final_loss"]
RESULT_KEYS = [*COLUMNS[2:], "hidden", "lam", "beta", "rho"]  # what each q1_sweep result must hold

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def find_results(results: Path, hidden: list[int], lams: list[float]) -> dict[tuple[int, float], Path]:
    """{(hidden, lambda): folder of its result} for every point of the grid; a missing one is a UserError."""
    found = {}
    for path in sorted(results.glob(f"*/{paths.RESULT}")):
        numbers = read_json(path, numbers=("hidden", "lam"))
        found[(int(numbers["hidden"]), float(numbers["lam"]))] = path.parent
    missing = [f"Lhid {h}, lambda {lam:g}" for lam in lams for h in hidden if (h, float(lam)) not in found]
    if missing:
        raise UserError(f"{results}: no q1_sweep result for {'; '.join(missing)} (run `dvc repro` to produce it)")
    return found


@app.command(help=HELP)
def main() -> None:
    """Combine the configurations of the grid hidden x lambda."""
    grid = load(SCHEMA, PARAMS).q1.sweep
    folders = find_results(paths.Q1_SWEEP_RESULTS, grid.hidden, grid.lam)
    rows, panels = [], {}
    for r, lam in enumerate(grid.lam):
        for c, h in enumerate(grid.hidden):
            folder = folders[(h, float(lam))]
            numbers = read_json(folder / paths.RESULT, numbers=RESULT_KEYS)
            rows.append({**numbers, "hidden": h, "lambda": float(lam)})
            model, params = load_network(paths.Q1_SWEEP_ARTIFACTS / folder.name / paths.MODEL)
            size = int(round(np.sqrt(model.n_in)))
            caption = f"Lhid={h}, lambda={float(lam):g}\nscore {numbers['feature_score']:.3f}"
            panels[(r, c)] = (figures.feature_mosaic(params["W1"], size), caption)
    table = pd.DataFrame(rows)[COLUMNS]

    first = rows[0]
    with outputs(paths.Q1_SUMMARY_RESULTS, paths.Q1_SUMMARY_PLOTS):
        io.write_csv(paths.Q1_SUMMARY_RESULTS / "sweep.csv", table)
        note = (f"beta = {first['beta']:g}, rho = {first['rho']:g}; heldout_r2: fraction of held-out patch variance "
                "explained; feature_score: mean over filters of localisation x orientation coherence.")
        io.write_text(paths.Q1_SUMMARY_RESULTS / "sweep.md", to_markdown([Paragraph(note), Table(table)]))
        figure = paths.Q1_SUMMARY_PLOTS / "features.png"
        figures.mosaic_grid_figure(panels, (len(grid.lam), len(grid.hidden)),
                                   f"features (rows lambda, columns Lhid), beta={first['beta']:g}, "
                                   f"rho={first['rho']:g}", figure)
    print(f"q1_sweep_summary: {len(rows)} configurations -> {figure}, {paths.Q1_SUMMARY_RESULTS / 'sweep.csv'}")


if __name__ == "__main__":
    run(app)
