"""Stage q3_compare (Q3 b, c): RNN vs LSTM vs GRU from the q3_train summaries.

Reads results/q3/train/<model>/result.json for every key of params.yaml q3.models, in order (never by
globbing), and writes metrics/q3.json (headline numbers, {"<model>": {"test_accuracy", ...}}), one table
(results/q3/compare/comparison.csv and .md: accuracies, epochs, parameter count) and one figure
(plots/q3/compare/comparison.png: test accuracy and validation error per epoch of each model).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Table, to_markdown
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json
from pipeline.common.staging import outputs
from pipeline.q3.params import SCHEMA

PARAMS = ("q3.models",)
METRIC_KEYS = ("test_accuracy", "val_accuracy", "test_cross_entropy")  # headline numbers; the rest in results/
TABLE_COLUMNS = ["model", "test_accuracy", "val_accuracy", "test_cross_entropy", "best_epoch", "stopped_epoch",
                 "parameters"]
SUMMARY_KEYS = (*TABLE_COLUMNS[1:], "precision", "recall", "val_overlapping_train")  # read from each q3_train summary

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def comparison_figure(summaries: dict[str, dict], path: Path) -> None:
    """Left: test accuracy per model. Right: validation error per epoch of each model."""
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(summaries)
    accs = [summaries[m]["test_accuracy"] for m in names]
    bars = ax_bar.bar([m.upper() for m in names], accs, color=["C0", "C1", "C2", "C3"][: len(names)])
    ax_bar.bar_label(bars, labels=[f"{a:.3f}" for a in accs])
    ax_bar.set_ylim(0, 1.05)
    ax_bar.set_ylabel("test accuracy")
    for m in names:
        curve = read_csv(paths.Q3_TRAIN_PLOTS / m / paths.CURVE, ("epoch", "val_error"))
        label = f"{m.upper()} (best epoch {summaries[m]['best_epoch']})"
        ax_curve.plot(curve["epoch"], curve["val_error"], label=label)
    figures.epoch_axes(ax_curve, "validation error rate")
    fig.suptitle("Q3: recurrent layers compared (128 units, MLP head)")
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Collect the per-model summaries into metrics/q3.json, a table and a figure."""
    models = list(load(SCHEMA, PARAMS).q3.models)
    summaries = {m: read_json(paths.Q3_TRAIN_RESULTS / m / paths.RESULT, SUMMARY_KEYS) for m in models}
    table = pd.DataFrame([{"model": m, **{k: s[k] for k in TABLE_COLUMNS[1:]}} for m, s in summaries.items()],
                         columns=TABLE_COLUMNS)
    figures.use_agg()
    with outputs(paths.Q3_METRICS, paths.Q3_COMPARE_RESULTS, paths.Q3_COMPARE_PLOTS):
        overlap = max(s["val_overlapping_train"] for s in summaries.values())  # one split, the same for every model
        io.write_json(paths.Q3_METRICS, {**{m: {key: s[key] for key in METRIC_KEYS} for m, s in summaries.items()},
                                         "split": {"val_windows_overlapping_train": overlap}})
        io.write_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv", table)
        io.write_text(paths.Q3_COMPARE_RESULTS / "comparison.md", to_markdown([Table(table)]))
        comparison_figure(summaries, paths.Q3_COMPARE_PLOTS / "comparison.png")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run(app)
