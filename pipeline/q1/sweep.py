"""Stage q1_sweep@<hidden>-<lambda> (Q1 d), one configuration of the Lhid x lambda matrix: train it, save it.

beta and rho are fixed (params.yaml q1.beta, q1.rho: the search's choice); hidden and lambda are the
matrix item dvc.yaml passes on the command line. For name = h<hidden>_l<lambda> (the item's text, as
dvc.yaml writes `h${item.hidden}_l${item.lambda}`) it writes artifacts/q1/sweep/<name>/model.npz,
plots/q1/sweep/<name>/features.png and curve.csv, and results/q1/sweep/<name>/result.json
(pipeline.q1.quality.measure plus hidden, lambda, beta, rho and steps; the time goes to logs/).
pipeline.q1.sweep_summary combines the grid.
"""

from __future__ import annotations

import typer

from models.autoencoder import SparseAutoencoder
from pipeline.common import io, paths
from pipeline.common.config import load, non_negative, positive_int, stage_help
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.provenance import write_log
from pipeline.common.staging import outputs
from pipeline.q1 import figures, fit, quality
from pipeline.q1.data import save_network, training_split
from pipeline.q1.params import FIT_KEYS, PATCH_KEYS, SCHEMA

PARAMS = (*PATCH_KEYS, "q1.beta", "q1.rho", *FIT_KEYS)

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def config_name(hidden: str, lam: str) -> str:
    """Folder name of one configuration from the text of its values, e.g. ('50', '0.0005') -> 'h50_l0.0005'."""
    return f"h{hidden}_l{lam}"


def parse_item(hidden: str, lam: str) -> tuple[int | str, float | str, list[str]]:
    """The matrix item's values, and a line naming its q1.sweep key for each bad one."""
    problems = []
    try:
        hidden_value: object = int(hidden)
    except ValueError:
        hidden_value = hidden
    try:
        lam_value: object = float(lam)
    except ValueError:
        lam_value = lam
    for key, value, rule in (("q1.sweep.hidden", hidden_value, positive_int), ("q1.sweep.lambda", lam_value,
                                                                               non_negative)):
        problem = rule(value)
        if problem:
            problems.append(f"params.yaml {key} = {value!r}: {problem}")
    return hidden_value, lam_value, problems


@app.command(help=HELP)
def main(hidden: str = typer.Argument(..., help="the item's Lhid (an entry of params.yaml q1.sweep.hidden)"),
         lam: str = typer.Argument(..., help="the item's lambda (an entry of params.yaml q1.sweep.lambda)")) -> None:
    """Train the configuration (hidden, lambda) with the chosen beta and rho."""
    hidden_value, lam_value, problems = parse_item(hidden, lam)
    try:
        p = load(SCHEMA, PARAMS)
    except UserError as err:
        problems += str(err).splitlines()
    if problems:
        raise UserError("\n".join(problems))
    q1 = p.q1
    split = training_split(p)
    quality.check_window(q1.quality.window, split.size)
    check_fits("q1.sweep.hidden", hidden_value, fit.memory_needed(split.train.shape[1], hidden_value, len(split.train)))
    name = config_name(hidden, lam)
    model = SparseAutoencoder(split.train.shape[1], hidden_value, lam_value, q1.beta, q1.rho)
    result = fit.fit(model, split.train, fit.SolverSettings.of(q1, q1.lbfgs.iterations), label=f"q1_sweep {name}")
    numbers = quality.measure(model, result.params, split.train, split.held, split.size, q1.quality.window)
    numbers.update(hidden=hidden_value, lam=lam_value, beta=q1.beta, rho=q1.rho, steps=result.steps)

    artifacts, plots, results = (folder / name for folder in (paths.Q1_SWEEP_ARTIFACTS, paths.Q1_SWEEP_PLOTS,
                                                              paths.Q1_SWEEP_RESULTS))
    with outputs(artifacts, plots, results):
        save_network(artifacts / paths.MODEL, model, result.params)
        io.write_csv(plots / paths.CURVE, result.curve)
        figures.features_figure(result.params["W1"], split.size,
                                f"Lhid={hidden_value}, lambda={lam_value:g} (beta={q1.beta:g}, rho={q1.rho:g})",
                                plots / "features.png")
        io.write_json(results / paths.RESULT, numbers)
    write_log(f"q1_sweep@{hidden}-{lam}", train_seconds=round(result.seconds, 2))
    print(f"q1_sweep {name}: held-out r2 {numbers['heldout_r2']:.3f}, feature score {numbers['feature_score']:.3f}, "
          f"{result.seconds:.1f}s")


if __name__ == "__main__":
    run(app)
