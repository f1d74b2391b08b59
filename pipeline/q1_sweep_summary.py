"""Stage q1_sweep_summary (Q1 d): the Lhid x lambda grid in one figure and one table.

The grid comes from the options (dvc.yaml passes params.yaml q1.sweep, `--hidden 10 50 100 --lambda 0
0.0005 0.001`), never from the files present, so a shrunk grid does not pick up stale results. Reads
each configuration's results/q1/sweep/<name>.json and artifacts/q1/sweep/<name>.npz; writes
plots/q1/sweep_features.png (rows lambda, columns Lhid) and results/q1/sweep.csv and .md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import typer

from pipeline import atomic, q1_plots
from pipeline.checks import ParamChecks
from pipeline.document import Paragraph, Table, to_markdown
from pipeline.errors import make_app, run
from pipeline.nargs import expand_nargs
from pipeline.outputs import read_json
from pipeline.q1_data import load_network
from pipeline.q1_sweep import config_name, parse_number

app = make_app(__doc__)
LIST_OPTIONS = ("--hidden", "--lambda")
COLUMNS = ["hidden", "lambda", "heldout_mse", "heldout_r2", "rho_hat_mean", "rho_hat_std", "localisation",
           "coherence", "feature_score", "final_loss", "train_seconds"]
RESULT_KEYS = [*COLUMNS[2:], "beta", "rho"]  # what each q1_sweep result must hold (hidden, lambda come from the grid)


@app.command()
def main(
    hidden: list[int] = typer.Option(..., help="params.yaml q1.sweep.hidden (columns of the figure)"),
    lam: list[str] = typer.Option(..., "--lambda", help="params.yaml q1.sweep.lambda (rows of the figure)"),
    artifacts: Path = typer.Option(Path("artifacts/q1/sweep"), help="q1_sweep's folder of <name>.npz"),
    results: Path = typer.Option(Path("results/q1/sweep"), help="q1_sweep's folder of <name>.json"),
    figure: Path = typer.Option(Path("plots/q1/sweep_features.png")),
    table_out: Path = typer.Option(Path("results/q1/sweep"), help="writes <this>.csv and <this>.md"),
) -> None:
    """Combine the configurations of the grid hidden x lambda."""
    checks = ParamChecks()
    checks.each(checks.positive_int, "q1.sweep.hidden", hidden)
    checks.each(checks.non_negative, "q1.sweep.lambda", [parse_number(text) for text in lam])
    checks.distinct("q1.sweep.hidden", hidden)
    checks.distinct("q1.sweep.lambda", lam)
    checks.done()

    rows, panels = [], {}
    for r, lam_text in enumerate(lam):
        for c, h in enumerate(hidden):
            name = config_name(str(h), lam_text)
            numbers = read_json(results / f"{name}.json", RESULT_KEYS)
            rows.append({**numbers, "hidden": h, "lambda": float(lam_text)})
            model, params = load_network(artifacts / f"{name}.npz")
            size = int(round(model.n_in**0.5))
            caption = f"Lhid={h}, lambda={float(lam_text):g}\nscore {numbers['feature_score']:.3f}"
            panels[(r, c)] = (q1_plots.feature_mosaic(params["W1"], size), caption)
    table = pd.DataFrame(rows)[COLUMNS]

    first = rows[0]
    atomic.write_csv(table_out.with_suffix(".csv"), table)
    note = (f"beta = {first['beta']:g}, rho = {first['rho']:g}; heldout_r2: fraction of held-out patch variance "
            "explained; feature_score: mean over filters of localisation x orientation coherence.")
    atomic.write_text(table_out.with_suffix(".md"), to_markdown([Paragraph(note), Table(table)]))
    q1_plots.mosaic_grid_figure(panels, (len(lam), len(hidden)),
                                f"features (rows lambda, columns Lhid), beta={first['beta']:g}, "
                                f"rho={first['rho']:g}", figure)
    print(f"q1_sweep_summary: {len(rows)} configurations -> {figure}, {table_out.with_suffix('.csv')}")


if __name__ == "__main__":
    sys.argv[1:] = expand_nargs(sys.argv[1:], LIST_OPTIONS)
    run(app)
