"""Stage q2_summary (Q2 a): metrics/q2.json and one figure comparing the validation curves.

The networks are the keys of params.yaml q2.sizes (in their order there), never a glob of the output
folders. metrics/q2.json holds, per network, flat keys "<name>.val_cross_entropy", "<name>.val_accuracy",
"<name>.test_cross_entropy", "<name>.test_accuracy", "<name>.best_epoch", "<name>.stopped_epoch" and
"<name>.train_seconds".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.errors import make_app, run
from pipeline.outputs import read_csv, read_json, read_params
from pipeline.q2_train import curve_path

METRIC_KEYS = ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy", "best_epoch",
               "stopped_epoch", "train_seconds")

app = make_app(__doc__)


def network_names(params_file: Path) -> list[str]:
    """The keys of q2.sizes in params.yaml, in file order."""
    sizes = read_params(params_file, "q2.sizes")["q2"]["sizes"]
    checks = ParamChecks()
    for name, size in sizes.items():
        checks.name("q2.sizes (key)", str(name))
        size = size if isinstance(size, dict) else {}
        checks.positive_int(f"q2.sizes.{name}.dim", size.get("dim"))
        checks.positive_int(f"q2.sizes.{name}.hidden", size.get("hidden"))
    checks.done()
    return [str(name) for name in sizes]


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
    atomic.save_figure(fig, path)


@app.command()
def main(
    params_file: Path = typer.Option(Path("params.yaml"), help="where the network names (q2.sizes) are"),
    results: Path = typer.Option(Path("results/q2"), help="folder of the <name>.json written by q2_train"),
    plots: Path = typer.Option(Path("plots/q2"), help="folder of the <name>_curve.csv written by q2_train"),
    metrics: Path = typer.Option(Path("metrics/q2.json")),
    figure: Path = typer.Option(Path("plots/q2/validation_curves.png")),
) -> None:
    """Collect the per-network results into metrics/q2.json and draw the validation curves together."""
    names = network_names(params_file)
    summary, curves, labels = {}, {}, {}
    for name in names:
        result = read_json(Path(results) / f"{name}.json", (*METRIC_KEYS, "dim", "hidden"))
        summary[name] = {key: result[key] for key in METRIC_KEYS}
        labels[name] = f"(D, P) = ({result['dim']}, {result['hidden']})"
        curves[name] = read_csv(curve_path(plots, name, "csv"), ("epoch", "val_cross_entropy", "val_accuracy"))
    flat = {f"{name}.{key}": value for name, values in summary.items() for key, value in values.items()}
    atomic.write_json(metrics, flat)
    figures.use_agg()
    validation_figure(curves, labels, {name: summary[name]["best_epoch"] for name in names}, figure)
    for name in names:
        s = summary[name]
        print(f"q2_summary {name}: val CE {s['val_cross_entropy']:.4f}, test CE {s['test_cross_entropy']:.4f}, "
              f"test acc {s['test_accuracy']:.4f}, best epoch {s['best_epoch']}, {s['train_seconds']:.0f}s")


if __name__ == "__main__":
    run(app)
