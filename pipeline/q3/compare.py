"""Stage q3_compare (Q3 b, c): the entries of q3.models compared, from the q3_train summaries and test predictions.

Reads results/q3/train/<model>/ (result.json and every seed's test_predictions.csv) for every key of params.yaml
q3.models, in order (never by globbing), and results/q3/baseline/. Two questions are kept apart, each answered only
for entries that differ in nothing else (`pairs`):

- cell: entries of different cells trained with one recipe (every setting equal but the cell and the learning
  rate, epochs and patience chosen per cell on validation);
- recipe: entries of one cell that differ in one aspect of the recipe (augmentation, architecture, optimisation,
  initialisation, or learning rate and epochs).

Every entry is also compared with the softmax-regression baseline. Differences and their intervals come from
pipeline.q3.intervals (seeds and a bootstrap over the test file's trials). All compared pairs are one family: each
p-value is Holm-adjusted over them (`p_adjusted`), and a pair is a tie when the adjusted p >= 0.05.

Writes metrics/q3.json (headline numbers per entry, means over the seeds: {"<model>": {"test_accuracy",
"test_accuracy_std", "test_accuracy_low", "test_accuracy_high", "val_accuracy", "val_accuracy_std",
"val_cross_entropy", "val_cross_entropy_std"}}),
results/q3/compare/comparison.csv and .md (one row per entry), differences.csv (one row per compared pair),
intervals.csv (each entry's interval with trials as the bootstrap's unit and, as a sensitivity check, with fragments),
units.json (what each grouping makes of the test file: units, single-window units, windows per unit),
plots/q3/compare/comparison.png (test accuracy per entry grouped by cell; validation accuracy per epoch of each
entry's median seed) and plots/q3/compare/val_accuracy.csv (epoch, model, seed, val_accuracy: every entry and seed,
from plots/q3/train/<model>/curves.csv, for `dvc plots`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Table, to_markdown
from pipeline.common.errors import make_app, run
from pipeline.common.readers import read_csv, read_json, same_rows
from pipeline.common.seeds import LEVEL, holm_adjusted, one_seed, seed_folder, summary_numbers
from pipeline.common.staging import outputs
from pipeline.q3.evaluation import PREDICTION_COLUMNS
from pipeline.q3.intervals import Predictions, difference, draw_weights, interval
from pipeline.q3.params import AUGMENTATION_KEYS, SCHEMA, architecture, augmented
from pipeline.q3.train import SPREAD_KEYS
from pipeline.q3.trials import unit_counts

PARAMS = ("q3.models",)
BASELINE = "baseline"
PER_CELL = ("lr", "epochs", "patience")  # chosen per cell on validation: may differ between the cells of one recipe
ASPECTS = {"augmentation": AUGMENTATION_KEYS, "architecture": ("layers", "hidden", "head"),
           "optimisation": ("schedule", "lr_min", "clip"), "initialisation": ("recurrent_init", "recurrent_gain"),
           "learning rate and epochs": PER_CELL}
TABLE_COLUMNS = ["model", "cell", "layers", "augmented", "test_accuracy", "test_accuracy_std", "test_accuracy_low",
                 "test_accuracy_high", "test_accuracy_min", "test_accuracy_max", "val_accuracy", "val_cross_entropy",
                 "test_cross_entropy", "best_epochs", "parameters"]
DIFFERENCE_COLUMNS = ["question", "aspect", "a", "b", "difference", "half_width", "dof", "p_value", "p_adjusted",
                      "tie"]

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def differing_aspects(a: dict, b: dict) -> list[str]:
    """The aspects of the recipe (ASPECTS) in which two entries' settings differ."""
    return [aspect for aspect, keys in ASPECTS.items() if any(a[k] != b[k] for k in keys)]


def pairs(models: dict[str, dict]) -> list[tuple[str, str, str, str]]:
    """(question, aspect, a, b) for every two entries that differ in one thing, a before b in params order:
    ("cell", "", a, b) for other cells at one recipe (only the per-cell lr, epochs and patience may differ), and
    ("recipe", aspect, a, b) for one cell and one differing aspect."""
    names, found = list(models), []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            aspects = differing_aspects(models[a], models[b])
            if models[a]["cell"] != models[b]["cell"]:
                if not set(aspects) - {"learning rate and epochs"}:
                    found.append(("cell", "", a, b))
            elif len(aspects) == 1:
                found.append(("recipe", aspects[0], a, b))
    return found


def headline(s: dict, low: float, high: float) -> dict[str, float]:
    """A model's metrics/q3.json entry: means over the seeds, each with its std (`<metric>_std`: the CI gate,
    tools/check_metrics.py, tests a change against that spread), and the test accuracy's 95 % interval."""
    return {"test_accuracy": s["test_accuracy"]["mean"], "test_accuracy_std": s["test_accuracy"]["std"],
            "test_accuracy_low": low, "test_accuracy_high": high,
            "val_accuracy": s["val_accuracy"]["mean"], "val_accuracy_std": s["val_accuracy"]["std"],
            "val_cross_entropy": s["val_cross_entropy"]["mean"], "val_cross_entropy_std": s["val_cross_entropy"]["std"]}


def table_row(m: str, model: dict, s: dict, low: float, high: float) -> dict:
    """One row of the comparison table: what the entry is, its headline numbers, the test accuracy's range, epochs,
    size."""
    return {"model": m, "cell": model["cell"], "layers": model["layers"], "augmented": augmented(model),
            **headline(s, low, high), "test_accuracy_min": s["test_accuracy"]["min"],
            "test_accuracy_max": s["test_accuracy"]["max"], "test_cross_entropy": s["test_cross_entropy"]["mean"],
            "best_epochs": " ".join(str(r["best_epoch"]) for r in s["per_seed"]), "parameters": s["parameters"]}


def family(differences: pd.DataFrame) -> pd.DataFrame:
    """DIFFERENCE_COLUMNS: the compared pairs with their p-values Holm-adjusted over all of them (one family) and
    `tie` where the adjusted p >= 1 - LEVEL."""
    adjusted = holm_adjusted(differences["p_value"].tolist()) if len(differences) else []
    return differences.assign(p_adjusted=adjusted, tie=[a >= 1 - LEVEL for a in adjusted])[DIFFERENCE_COLUMNS]


def interval_table(by_trial: dict[str, tuple[float, float]], by_fragment: dict[str, tuple[float, float]]
                   ) -> pd.DataFrame:
    """intervals.csv: per entry (and the baseline) the 95 % interval with trials as the unit (the one reported) and
    with fragments (a sensitivity check: too narrow, as fragments of one trial are near copies)."""
    return pd.DataFrame([{"model": m, "low": low, "high": high, "low_by_fragment": by_fragment[m][0],
                          "high_by_fragment": by_fragment[m][1]} for m, (low, high) in by_trial.items()])


def units(p: Predictions, summaries: dict[str, dict]) -> dict:
    """units.json: what the trial and the fragment grouping make of the test file (pipeline.q3.trials.unit_counts),
    and the trials found in the training file."""
    return {"test": {"windows": int(len(p.trial)), "trials": unit_counts(p.trial),
                     "fragments": unit_counts(p.fragment)},
            "train_trials": int(next(iter(summaries.values()))["trials"]) if summaries else 0}


def read_predictions(folders: dict[str, tuple[Path, list[int]]]) -> dict[str, Predictions]:
    """{entry: its seeds' test predictions} from {entry: (folder, seeds)}; every file is checked (numbers only, the
    same windows as the others) before any is used."""
    frames = {name: {folder / seed_folder(seed) / paths.TEST_PREDICTIONS: None for seed in seeds}
              for name, (folder, seeds) in folders.items()}
    for files in frames.values():
        for path in files:
            files[path] = read_csv(path, numeric=PREDICTION_COLUMNS)
    same_rows({path: frame for files in frames.values() for path, frame in files.items()}, "trial")
    return {name: Predictions.from_frames(list(files.values())) for name, files in frames.items()}


def read_curves(names) -> dict[str, pd.DataFrame]:
    """{model: its curves.csv (every seed's validation accuracy per epoch)} for the entries `names`."""
    return {name: read_csv(paths.Q3_TRAIN_PLOTS / name / paths.CURVES, numeric=("epoch", "seed", "val_accuracy"))
            for name in names}


def validation_curves(curves: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """paths.Q3_COMPARE_CURVES: every entry's and seed's validation accuracy per epoch, one row each."""
    frames = [c.assign(model=name)[["epoch", "model", "seed", "val_accuracy"]] for name, c in curves.items()]
    return pd.concat(frames, ignore_index=True)


def comparison_figure(models: dict[str, dict], summaries: dict[str, dict], curves: dict[str, pd.DataFrame],
                      path: Path) -> None:
    """Left: mean test accuracy per entry, grouped by cell (bar = mean, line = min to max, dots = seeds; hatched =
    no augmentation). Right: validation accuracy per epoch of each entry's median seed."""
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(12, 4.5))
    cells = list(dict.fromkeys(m["cell"] for m in models.values()))
    x, ticks = 0.0, []
    for cell in cells:
        members = [name for name, m in models.items() if m["cell"] == cell]
        for name in members:
            acc, seeds = summaries[name]["test_accuracy"], [r["test_accuracy"] for r in summaries[name]["per_seed"]]
            colour = f"C{cells.index(cell)}"
            ax_bar.bar(x, acc["mean"], color=colour, alpha=0.7, hatch="" if augmented(models[name]) else "//",
                       edgecolor="black", lw=0.5)
            ax_bar.vlines(x, acc["min"], acc["max"], color="black", lw=1.2)
            ax_bar.plot([x] * len(seeds), seeds, "o", color="black", ms=3)
            ax_bar.annotate(f"{acc['mean']:.3f}", (x, acc["max"]), textcoords="offset points", xytext=(0, 4),
                            ha="center", fontsize=8)
            ticks.append((x, name))
            x += 1
        x += 0.6
    ax_bar.set_xticks([t for t, _ in ticks], [n for _, n in ticks], rotation=20, ha="right")
    lowest = min(s["test_accuracy"]["min"] for s in summaries.values())
    ax_bar.set_ylim(max(0.0, lowest - 0.1), 1.0)  # the differences are a few points: the axis starts near the lowest
    ax_bar.set_ylabel("test accuracy (mean; seeds as dots)")
    ax_bar.set_title("hatched: trained without augmentation", fontsize=9)
    for name, s in summaries.items():
        seed = s["median_seed"]
        curve = one_seed(curves[name], seed)
        colour = f"C{cells.index(models[name]['cell'])}"
        ax_curve.plot(curve["epoch"], curve["val_accuracy"], color=colour,
                      ls="-" if augmented(models[name]) else "--", label=f"{name} (median seed {seed})")
    figures.epoch_axes(ax_curve, "validation accuracy")
    kinds = sorted({architecture(m["cell"], m["layers"], m["hidden"]).split(", ", 1)[1] for m in models.values()})
    fig.suptitle(f"Q3: recurrent cells and recipes compared ({'; '.join(kinds)}, MLP head)")
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Collect the per-entry summaries into metrics/q3.json, two tables and a figure."""
    models = {name: m.as_dict() for name, m in load(SCHEMA, PARAMS).q3.models.items()}
    summaries = {m: read_json(paths.Q3_TRAIN_RESULTS / m / paths.RESULT,
                              numbers=(*summary_numbers(SPREAD_KEYS), "parameters", "trials", "val_overlapping_train"))
                 for m in models}
    baseline = read_json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json", numbers=("seeds",))
    predictions = read_predictions({**{m: (paths.Q3_TRAIN_RESULTS / m, s["seeds"]) for m, s in summaries.items()},
                                    BASELINE: (paths.Q3_BASELINE_RESULTS, baseline["seeds"])})
    weights = draw_weights(predictions[BASELINE].trial)
    intervals = {m: interval(p, weights) for m, p in predictions.items()}
    fragment_weights = draw_weights(predictions[BASELINE].fragment)
    by_fragment = {m: interval(p, fragment_weights) for m, p in predictions.items()}
    table = pd.DataFrame([table_row(m, models[m], s, *intervals[m]) for m, s in summaries.items()],
                         columns=TABLE_COLUMNS)
    compared = [*pairs(models), *(("baseline", "", m, BASELINE) for m in models)]
    differences = family(pd.DataFrame([{"question": q, "aspect": aspect, "a": a, "b": b,
                                        **difference(predictions[a], predictions[b], weights)}
                                       for q, aspect, a, b in compared]))
    curves = read_curves(models)
    figures.use_agg()
    with outputs(paths.Q3_METRICS, paths.Q3_COMPARE_RESULTS, paths.Q3_COMPARE_PLOTS):
        overlap = max(s["val_overlapping_train"] for s in summaries.values())
        io.write_json(paths.Q3_METRICS, {**{m: headline(s, *intervals[m]) for m, s in summaries.items()},
                                         "split": {"val_windows_overlapping_train": overlap}})
        io.write_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv", table)
        io.write_csv(paths.Q3_COMPARE_RESULTS / "differences.csv", differences)
        io.write_json(paths.Q3_COMPARE_RESULTS / "baseline_interval.json", dict(zip(("low", "high"),
                                                                                    intervals[BASELINE], strict=True)))
        io.write_csv(paths.Q3_COMPARE_RESULTS / "intervals.csv", interval_table(intervals, by_fragment))
        io.write_json(paths.Q3_COMPARE_RESULTS / "units.json", units(predictions[BASELINE], summaries))
        io.write_text(paths.Q3_COMPARE_RESULTS / "comparison.md", to_markdown([Table(table), Table(differences)]))
        io.write_csv(paths.Q3_COMPARE_CURVES, validation_curves(curves))
        comparison_figure(models, summaries, curves, paths.Q3_COMPARE_PLOTS / "comparison.png")
    print(table.to_string(index=False))
    print(differences.to_string(index=False))


if __name__ == "__main__":
    run(app)
