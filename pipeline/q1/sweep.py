"""Stage q1_sweep (Q1 d): every configuration of the Lhid x lambda grid (params.yaml q1.sweep), trained and saved.

beta and rho are fixed (params.yaml q1.beta, q1.rho: the search's choice). The configurations are independent
trainings, run side by side on the machine's cores (pipeline.common.parallel, the largest Lhid first). For each
configuration, name = h<hidden>_l<lambda> (e.g. h50_l0.0005), it writes artifacts/q1/sweep/<name>/model.npz,
plots/q1/sweep/<name>/features.png and results/q1/sweep/<name>/result.json (pipeline.q1.quality.measure plus hidden,
lambda, beta, rho and steps); the cost curves of all of them go to plots/q1/sweep/curves.csv (configuration, hidden,
lambda, then pipeline.q1.fit's curve columns; one chart in `dvc plots`), the times to logs/q1_sweep.json.
pipeline.q1.sweep_summary combines the grid. One stage for the grid, not one per configuration: `dvc repro` runs
stages one at a time, so separate stages left a core idle, and a fit takes seconds, so re-running the whole grid when
one list changes costs little.
"""

from __future__ import annotations

import time

import pandas as pd

from models.autoencoder import SparseAutoencoder
from pipeline.common import io, paths
from pipeline.common.config import Params, load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.parallel import jobs, map_parallel
from pipeline.common.provenance import write_log
from pipeline.common.staging import outputs
from pipeline.q1 import figures, fit, quality
from pipeline.q1.data import PatchSplit, save_network, training_split
from pipeline.q1.params import FIT_KEYS, PATCH_KEYS, SCHEMA

PARAMS = (*PATCH_KEYS, "q1.beta", "q1.rho", *FIT_KEYS, "q1.sweep")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def config_name(hidden: int, lam: float) -> str:
    """Folder name of one configuration, e.g. (50, 0.0005) -> 'h50_l0.0005', (10, 0) -> 'h10_l0'."""
    return f"h{hidden}_l{lam:g}"


def sweep_curves(runs: dict[str, tuple[SparseAutoencoder, fit.Fit, dict]]) -> pd.DataFrame:
    """paths.CURVES of the sweep: every configuration's cost curve, one row per step, named by its configuration."""
    frames = [result.curve.assign(configuration=name, hidden=model.n_hidden, **{"lambda": model.lam})
              for name, (model, result, _) in runs.items()]
    columns = ["configuration", "hidden", "lambda", *fit.CURVE_COLUMNS]
    return pd.concat(frames, ignore_index=True)[columns]


def fit_config(p: Params, split: PatchSplit, config: tuple[int, float]) -> tuple[SparseAutoencoder, fit.Fit, dict]:
    """Train the configuration (hidden, lambda) with q1.beta and q1.rho: the model, its fit, its quality numbers."""
    q1, (hidden, lam) = p.q1, config
    model = SparseAutoencoder(split.train.shape[1], hidden, lam, q1.beta, q1.rho)
    result = fit.fit(model, split.train, fit.SolverSettings.of(q1, q1.lbfgs.iterations),
                     label=f"q1_sweep {config_name(hidden, lam)}")
    numbers = quality.measure(model, result.params, split.train, split.held, split.size, q1.quality.window)
    numbers.update(hidden=hidden, lam=lam, beta=q1.beta, rho=q1.rho, steps=result.steps)
    return model, result, numbers


@app.command(help=HELP)
def main() -> None:
    """Train every configuration (hidden, lambda) of the grid with the chosen beta and rho."""
    p = load(SCHEMA, PARAMS)
    q1 = p.q1
    configs = [(hidden, float(lam)) for lam in q1.sweep.lam for hidden in q1.sweep.hidden]
    split = training_split(p)
    quality.check_window(q1.quality.window, split.size)
    largest = max(q1.sweep.hidden)
    check_fits("q1.sweep.hidden", largest,
               jobs(len(configs)) * fit.memory_needed(split.train.shape[1], largest, len(split.train)))
    order = sorted(range(len(configs)), key=lambda i: -configs[i][0])  # the longest fits first: no idle core at the end
    started = time.perf_counter()
    fitted = dict(zip(order, map_parallel(lambda i: fit_config(p, split, configs[i]), order,
                                          lambda i: config_name(*configs[i])), strict=True))
    seconds = time.perf_counter() - started
    runs = {config_name(*configs[i]): fitted[i] for i in range(len(configs))}  # in grid order

    with outputs(paths.Q1_SWEEP_ARTIFACTS, paths.Q1_SWEEP_PLOTS, paths.Q1_SWEEP_RESULTS):
        for name, (model, result, numbers) in runs.items():
            save_network(paths.Q1_SWEEP_ARTIFACTS / name / paths.MODEL, model, result.params)
            figures.features_figure(result.params["W1"], split.size,
                                    f"Lhid={model.n_hidden}, lambda={model.lam:g} (beta={q1.beta:g}, rho={q1.rho:g})",
                                    paths.Q1_SWEEP_PLOTS / name / "features.png")
            io.write_json(paths.Q1_SWEEP_RESULTS / name / paths.RESULT, numbers)
        io.write_csv(paths.Q1_SWEEP_PLOTS / paths.CURVES, sweep_curves(runs))
    write_log("q1_sweep", train_seconds=round(seconds, 2),
              configurations={name: round(result.seconds, 2) for name, (_, result, _) in runs.items()})
    for name, (_, result, numbers) in runs.items():
        print(f"q1_sweep {name}: held-out r2 {numbers['heldout_r2']:.3f}, "
              f"feature score {numbers['feature_score']:.3f}, {result.seconds:.1f}s")
    print(f"q1_sweep: {len(configs)} configurations in {seconds:.1f}s")

if __name__ == "__main__":
    run(app)
