"""Stage q2_summary (Q2 a): metrics/q2.json and one figure comparing the validation curves.

The networks are the keys of params.yaml q2.sizes (in their order there), never a glob of the output
folders; each one's results/q2/train/<name>/result.json and plots/q2/train/<name>/curve.csv are read.
metrics/q2.json holds the headline numbers per network, {"<name>": {"val_cross_entropy", "test_cross_entropy",
"test_accuracy"}}; epochs and the rest stay in results/.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json
from pipeline.common.staging import outputs
from pipeline.q2.params import SCHEMA

PARAMS = ("q2.sizes",)
METRIC_KEYS = ("val_cross_entropy", "test_cross_entropy", "test_accuracy")  # headline numbers; the rest in results/

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
    results, curves = {}, {}
    for name in names:
        results[name] = read_json(paths.Q2_TRAIN_RESULTS / name / paths.RESULT,
                                  (*METRIC_KEYS, "dim", "hidden", "best_epoch"))
        curves[name] = read_csv(paths.Q2_TRAIN_PLOTS / name / paths.CURVE,
                                ("epoch", "val_cross_entropy", "val_accuracy"))
    labels = {name: f"(D, P) = ({r['dim']}, {r['hidden']})" for name, r in results.items()}
    figures.use_agg()
    with outputs(paths.Q2_METRICS, paths.Q2_SUMMARY_PLOTS):
        io.write_json(paths.Q2_METRICS, {name: {key: r[key] for key in METRIC_KEYS} for name, r in results.items()})
        validation_figure(curves, labels, {name: r["best_epoch"] for name, r in results.items()},
                          paths.Q2_SUMMARY_PLOTS / "validation_curves.png")
    for name, r in results.items():
        print(f"q2_summary {name}: val CE {r['val_cross_entropy']:.4f}, test CE {r['test_cross_entropy']:.4f}, "
              f"test acc {r['test_accuracy']:.4f}, best epoch {r['best_epoch']}")


if __name__ == "__main__":
    run(app)
