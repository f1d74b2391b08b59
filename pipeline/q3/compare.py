"""Stage q3_compare (Q3 b, c): RNN vs LSTM vs GRU from the q3_train summaries.

Reads results/q3/train/<model>/result.json (scores over the seeds) for every key of params.yaml q3.models, in
order (never by globbing), and writes metrics/q3.json (headline numbers, means over the seeds:
{"<model>": {"test_accuracy", "test_accuracy_std", "val_accuracy", "val_cross_entropy"}}), one table
(results/q3/compare/comparison.csv and .md) and one figure (plots/q3/compare/comparison.png: test accuracy per
model and seed, validation error per epoch of the median seed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Table, to_markdown
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json
from pipeline.common.seeds import seed_folder
from pipeline.common.staging import outputs
from pipeline.q3.params import SCHEMA
from pipeline.q3.train import SPREAD_KEYS

PARAMS = ("q3.models",)
TABLE_COLUMNS = ["model", "test_accuracy", "test_accuracy_std", "test_accuracy_min", "test_accuracy_max",
                 "val_accuracy", "val_cross_entropy", "test_cross_entropy", "best_epochs", "parameters"]

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def headline(s: dict) -> dict[str, float]:
    """A model's metrics/q3.json entry: means over the seeds and the test accuracy's std (min and max are in the
    table and results/)."""
    return {"test_accuracy": s["test_accuracy"]["mean"], "test_accuracy_std": s["test_accuracy"]["std"],
            "val_accuracy": s["val_accuracy"]["mean"], "val_cross_entropy": s["val_cross_entropy"]["mean"]}


def table_row(m: str, s: dict) -> dict:
    """One row of the comparison table: the headline numbers, the test accuracy's range, epochs, size."""
    return {"model": m, **headline(s), "test_accuracy_min": s["test_accuracy"]["min"],
            "test_accuracy_max": s["test_accuracy"]["max"], "test_cross_entropy": s["test_cross_entropy"]["mean"],
            "best_epochs": " ".join(str(r["best_epoch"]) for r in s["per_seed"]), "parameters": s["parameters"]}


def comparison_figure(summaries: dict[str, dict], path: Path) -> None:
    """Left: mean test accuracy per model, bar = mean, line = min to max, dots = seeds. Right: validation error per
    epoch of each model's median seed."""
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(summaries)
    for i, m in enumerate(names):
        acc, seeds = summaries[m]["test_accuracy"], [r["test_accuracy"] for r in summaries[m]["per_seed"]]
        ax_bar.bar(i, acc["mean"], color=f"C{i}", alpha=0.7)
        ax_bar.vlines(i, acc["min"], acc["max"], color="black", lw=1.2)
        ax_bar.plot([i] * len(seeds), seeds, "o", color="black", ms=3)
        ax_bar.annotate(f"{acc['mean']:.3f}", (i, acc["max"]), textcoords="offset points", xytext=(0, 4),
                        ha="center")
    ax_bar.set_xticks(range(len(names)), [m.upper() for m in names])
    lowest = min(summaries[m]["test_accuracy"]["min"] for m in names)
    ax_bar.set_ylim(max(0.0, lowest - 0.1), 1.0)  # the differences are a few points: the axis starts near the lowest
    ax_bar.set_ylabel(f"test accuracy (mean; seeds as dots, {len(summaries[names[0]]['seeds'])} per model)")
    for m in names:
        seed = summaries[m]["median_seed"]
        curve = read_csv(paths.Q3_TRAIN_PLOTS / m / seed_folder(seed) / paths.CURVE, ("epoch", "val_error"))
        ax_curve.plot(curve["epoch"], curve["val_error"], label=f"{m.upper()} (median seed {seed})")
    figures.epoch_axes(ax_curve, "validation error rate")
    fig.suptitle("Q3: recurrent layers compared (128 units, MLP head)")
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Collect the per-model summaries into metrics/q3.json, a table and a figure."""
    models = list(load(SCHEMA, PARAMS).q3.models)
    summaries = {m: read_json(paths.Q3_TRAIN_RESULTS / m / paths.RESULT,
                              (*SPREAD_KEYS, "seeds", "per_seed", "median_seed", "parameters", "val_overlapping_train"))
                 for m in models}
    table = pd.DataFrame([table_row(m, s) for m, s in summaries.items()], columns=TABLE_COLUMNS)
    figures.use_agg()
    with outputs(paths.Q3_METRICS, paths.Q3_COMPARE_RESULTS, paths.Q3_COMPARE_PLOTS):
        overlap = max(s["val_overlapping_train"] for s in summaries.values())
        io.write_json(paths.Q3_METRICS, {**{m: headline(s) for m, s in summaries.items()},
                                         "split": {"val_windows_overlapping_train": overlap}})
        io.write_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv", table)
        io.write_text(paths.Q3_COMPARE_RESULTS / "comparison.md", to_markdown([Table(table)]))
        comparison_figure(summaries, paths.Q3_COMPARE_PLOTS / "comparison.png")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run(app)
