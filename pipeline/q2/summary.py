"""Stage q2_summary (Q2 a): metrics/q2.json and the validation curves of every network side by side.

The networks are the keys of params.yaml q2.sizes (in their order there), never a glob of the output
folders; each one's results/q2/train/<name>/result.json (scores over the seeds) and plots/q2/train/<name>/curves.csv
(every seed's curves) are read. metrics/q2.json holds the headline numbers per network, means over the seeds:
{"<name>": {"val_cross_entropy", "test_cross_entropy", "test_accuracy", each with its std "<metric>_std"}}; the min
and max, epochs and the rest stay in results/. plots/q2/summary/val_cross_entropy.csv (epoch, network, seed,
val_cross_entropy: every network and seed, for `dvc plots`) and validation_curves.png (each network's median seed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json
from pipeline.common.seeds import one_seed, summary_numbers
from pipeline.common.staging import outputs
from pipeline.q2.params import SCHEMA

PARAMS = ("q2.sizes",)
SPREAD_KEYS = ("val_cross_entropy", "test_cross_entropy", "test_accuracy")  # read from each summary
HEADLINE_KEYS = SPREAD_KEYS  # in metrics/q2.json, each with its std
CURVE_COLUMNS = ("epoch", "seed", "val_cross_entropy", "val_accuracy")  # read from each curves.csv

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def headline(r: dict) -> dict[str, float]:
    """A network's metrics/q2.json entry: each headline number's mean over the seeds and its std beside it
    (`<metric>_std`: the CI gate, tools/check_metrics.py, tests a change against that spread; min and max are in
    results/q2/train/<name>/result.json)."""
    return {f"{key}{suffix}": r[key][stat] for key in HEADLINE_KEYS for suffix, stat in (("", "mean"), ("_std", "std"))}


def validation_curves(curves: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """paths.Q2_SUMMARY_CURVES: every network's and seed's validation cross-entropy per epoch, one row each."""
    frames = [c.assign(network=name)[["epoch", "network", "seed", "val_cross_entropy"]] for name, c in curves.items()]
    return pd.concat(frames, ignore_index=True)


def validation_figure(curves: dict[str, pd.DataFrame], labels: dict[str, str], best_epochs: dict[str, int],
                      path: Path) -> None:
    """Validation cross-entropy and accuracy per epoch, one line per network, best epoch dotted."""
    import matplotlib.pyplot as plt

    fig, (ax_ce, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in curves.items():
        line, = ax_ce.plot(curve["epoch"], curve["val_cross_entropy"], label=labels[name])
        ax_acc.plot(curve["epoch"], curve["val_accuracy"], color=line.get_color(), label=labels[name])
        best = curve[curve["epoch"] == best_epochs[name]]
        ax_ce.plot(best["epoch"], best["val_cross_entropy"], "o", color=line.get_color())
    figures.epoch_axes(ax_ce, "validation cross-entropy")
    figures.epoch_axes(ax_acc, "validation accuracy")
    ax_ce.set_title("dots: best epoch (weights kept)")
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Collect the per-network results into metrics/q2.json and draw the validation curves together."""
    names = list(load(SCHEMA, PARAMS).q2.sizes)
    results, curves, medians, best_epochs = {}, {}, {}, {}
    for name in names:
        r = results[name] = read_json(paths.Q2_TRAIN_RESULTS / name / paths.RESULT,
                                      numbers=(*summary_numbers(SPREAD_KEYS), "dim", "hidden"))
        curves[name] = read_csv(paths.Q2_TRAIN_PLOTS / name / paths.CURVES, numeric=CURVE_COLUMNS)
        medians[name] = one_seed(curves[name], r["median_seed"])
        best_epochs[name] = next(row["best_epoch"] for row in r["per_seed"] if row["seed"] == r["median_seed"])
    labels = {name: f"(D, P) = ({r['dim']}, {r['hidden']}), seed {r['median_seed']}" for name, r in results.items()}
    figures.use_agg()
    with outputs(paths.Q2_METRICS, paths.Q2_SUMMARY_PLOTS):
        io.write_json(paths.Q2_METRICS, {name: headline(r) for name, r in results.items()})
        io.write_csv(paths.Q2_SUMMARY_CURVES, validation_curves(curves))
        validation_figure(medians, labels, best_epochs, paths.Q2_SUMMARY_PLOTS / "validation_curves.png")
    for name, r in results.items():
        ce = r["val_cross_entropy"]
        print(f"q2_summary {name}: val CE {ce['mean']:.4f} +- {ce['std']:.4f}, test CE "
              f"{r['test_cross_entropy']['mean']:.4f}, test acc {r['test_accuracy']['mean']:.4f} "
              f"({len(r['per_seed'])} seeds)")


if __name__ == "__main__":
    run(app)
