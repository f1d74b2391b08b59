"""Stage q2_summary (Q2 a): metrics/q2.json and one figure comparing the validation curves.

The networks are the keys of params.yaml q2.sizes (in their order there), never a glob of the output
folders; each one's results/q2/train/<name>/result.json and plots/q2/train/<name>/curve.csv are read.
metrics/q2.json holds, per network, flat keys "<name>.val_cross_entropy", "<name>.val_accuracy",
"<name>.test_cross_entropy", "<name>.test_accuracy", "<name>.best_epoch", "<name>.stopped_epoch" and
"<name>.train_seconds".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json
from pipeline.q2.params import SCHEMA

PARAMS = ("q2.sizes",)
METRIC_KEYS = ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy", "best_epoch",
               "stopped_epoch", "train_seconds")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


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
    summary, curves, labels = {}, {}, {}
    for name in names:
        result = read_json(paths.Q2_TRAIN_RESULTS / name / paths.RESULT, (*METRIC_KEYS, "dim", "hidden"))
        summary[name] = {key: result[key] for key in METRIC_KEYS}
        labels[name] = f"(D, P) = ({result['dim']}, {result['hidden']})"
        curves[name] = read_csv(paths.Q2_TRAIN_PLOTS / name / paths.CURVE,
                                ("epoch", "val_cross_entropy", "val_accuracy"))
    flat = {f"{name}.{key}": value for name, values in summary.items() for key, value in values.items()}
    io.write_json(paths.Q2_METRICS, flat)
    figures.use_agg()
    validation_figure(curves, labels, {name: summary[name]["best_epoch"] for name in names},
                      paths.Q2_SUMMARY_PLOTS / "validation_curves.png")
    for name in names:
        s = summary[name]
        print(f"q2_summary {name}: val CE {s['val_cross_entropy']:.4f}, test CE {s['test_cross_entropy']:.4f}, "
              f"test acc {s['test_accuracy']:.4f}, best epoch {s['best_epoch']}, {s['train_seconds']:.0f}s")


if __name__ == "__main__":
    run(app)
