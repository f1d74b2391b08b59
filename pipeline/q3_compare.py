"""Stage q3_compare (Q3 b, c): RNN vs LSTM vs GRU from the q3_train summaries.

Reads results/q3/<model>.json for every key of params.yaml q3.models, in order (never by globbing), and
writes metrics/q3.json (flat keys <model>_<metric>), one table (results/q3/comparison.csv and .md: test
accuracy, epochs, time per epoch, parameter count) and one figure (plots/q3/comparison.png: test
accuracy and validation error per epoch of each model).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.errors import make_app, run
from pipeline.outputs import read_csv, read_json, read_params
from pipeline.q3_common import CELLS

app = make_app(__doc__)
METRIC_KEYS = ("test_accuracy", "test_cross_entropy", "val_accuracy", "best_epoch", "stopped_epoch", "stop_reason",
               "wall_seconds", "seconds_per_epoch", "parameters")
TABLE_COLUMNS = ["model", "test_accuracy", "best_epoch", "stopped_epoch", "seconds_per_epoch", "wall_seconds",
                 "parameters"]
SUMMARY_KEYS = (*METRIC_KEYS, "precision", "recall")  # read from each q3_train summary


def flat_metrics(summaries: dict[str, dict]) -> dict[str, float | int | str]:
    """{model}_{metric} keys; per-class precision / recall become {model}_precision_{class}."""
    flat: dict[str, float | int | str] = {}
    for model, s in summaries.items():
        for key in METRIC_KEYS:
            flat[f"{model}_{key}"] = s[key]
        for kind in ("precision", "recall"):
            for cls, value in s[kind].items():
                flat[f"{model}_{kind}_{cls}"] = value
    return flat


def comparison_figure(summaries: dict[str, dict], plots: Path, path: Path) -> None:
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
        curve = read_csv(Path(plots) / f"{m}_curve.csv", ("epoch", "val_error"))
        label = f"{m.upper()} (best epoch {summaries[m]['best_epoch']})"
        ax_curve.plot(curve["epoch"], curve["val_error"], label=label)
    figures.epoch_axes(ax_curve, "validation error rate")
    fig.suptitle("Q3: recurrent layers compared (128 units, MLP head)")
    atomic.save_figure(fig, path)


@app.command()
def main(
    params_file: Path = typer.Option(Path("params.yaml"), "--params", help="the models are the keys of q3.models"),
    results: Path = typer.Option(Path("results/q3")),
    plots: Path = typer.Option(Path("plots/q3")),
    metrics: Path = typer.Option(Path("metrics/q3.json")),
) -> None:
    """Collect the per-model summaries into metrics/q3.json, a table and a figure."""
    models = list(read_params(params_file, "q3.models")["q3"]["models"])
    checks = ParamChecks()
    for model in models:
        checks.choice("q3.models (key)", model, CELLS)
    checks.done()
    summaries = {m: read_json(Path(results) / f"{m}.json", SUMMARY_KEYS) for m in models}
    atomic.write_json(metrics, flat_metrics(summaries))
    table = pd.DataFrame([{"model": m, **{k: s[k] for k in TABLE_COLUMNS[1:]}} for m, s in summaries.items()],
                         columns=TABLE_COLUMNS)
    atomic.write_csv(Path(results) / "comparison.csv", table)
    atomic.write_text(Path(results) / "comparison.md", table.to_markdown(index=False, floatfmt=".4g") + "\n")
    figures.use_agg()
    comparison_figure(summaries, plots, Path(plots) / "comparison.png")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run(app)
