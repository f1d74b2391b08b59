"""Report section Q3 (a)-(c): RNN, LSTM and GRU classifiers, from metrics/q3.json and results/q3/."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.common import paths
from pipeline.common.document import Block, Bullets, Heading, Paragraph, Table
from pipeline.common.seeds import seed_folder
from pipeline.report.sources import Sources, num, pct, points

PARTS = {"rnn": ("a", "a vanilla (tanh) RNN"), "lstm": ("b", "an LSTM"), "gru": ("c", "a GRU")}


def confusions(matrix: pd.DataFrame, count: int = 2) -> list[tuple[str, str, int, int]]:
    """The `count` largest off-diagonal cells of a confusion table: (true, predicted, cases, row total).

    matrix: first column 'true' (class names), then one 'pred_<class>' column per class (counts).
    """
    counts = matrix.set_index("true")
    counts.columns = [c.removeprefix("pred_") for c in counts.columns]
    cells = [(t, p, int(counts.loc[t, p]), int(counts.loc[t].sum()))
             for t in counts.index for p in counts.columns if t != p and counts.loc[t, p] > 0]
    return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:count]


def confusion_sentence(matrix: pd.DataFrame) -> str:
    """'The most frequent test confusions: true a predicted as b (n of m), ...' or 'no confusions'."""
    cells = confusions(matrix)
    if not cells:
        return "Every test window is classified correctly."
    listed = "; ".join(f"{t} predicted as {p} ({n} of {total})" for t, p, n, total in cells)
    counts = matrix.set_index("true")
    perfect = [t for t in counts.index if counts.loc[t, f"pred_{t}"] == counts.loc[t].sum()]
    return (f"Most frequent test confusions: {listed}. "
            + (f"Recognised without error: {', '.join(perfect)}." if perfect else "Every class has some errors."))


def settings(model: dict, q3: dict) -> str:
    """One sentence with the model's training settings from params.yaml."""
    clip = f"gradients clipped at norm {num(model['clip'])}" if model["clip"] > 0 else "no gradient clipping"
    return (f"{model['hidden']} recurrent units ({model['recurrent_init']} recurrent initialisation), MLP head "
            f"\"{model['head']}\" then softmax; momentum SGD (batch {q3['batch_size']}, α = {num(q3['momentum'])}), "
            f"learning rate {num(model['lr'])} ({model['schedule']} schedule), {clip}, at most {model['epochs']} "
            f"epochs, early stopping with patience {model['patience']} on the validation cross-entropy "
            f"({pct(q3['val_fraction'])} of the training windows).")


def augmentation(model: dict) -> str:
    """The end of 'each seed draws its own validation split, initialisation ...': the mini-batch order, and the
    augmentation (rotations up to 20°, ...) for a model trained on augmented windows."""
    parts = [f"rotations up to {num(model['rotation'])}°" if model["rotation"] else "",
             f"movement scaled by up to ± {pct(model['scale'])}" if model["scale"] else "",
             f"jitter of std {num(model['jitter'])}" if model["jitter"] else ""]
    listed = ", ".join(p for p in parts if p)
    return f", mini-batch order and training-window augmentation ({listed})" if listed else " and mini-batch order"


def half_width(accuracy: float, n: int) -> float:
    """95 % normal-approximation half-width of an accuracy measured on n windows: 1.96 sqrt(p (1 - p) / n)."""
    return 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)


def difference(a: dict, b: dict, n: int) -> tuple[float, float, bool]:
    """mean(a) - mean(b) of two test accuracies over seeds ({"mean", "std", "seeds"}, n test windows), the 95 %
    half-width of that difference, and whether it is a tie.

    The half-width adds the seed-to-seed variance of each mean (std^2 / seeds) and the test set's sampling variance
    of each accuracy (p (1 - p) / n, the two taken as independent). A tie: the difference is inside that interval
    or smaller than the larger of the two seed spreads (std).
    """
    diff = a["mean"] - b["mean"]
    variance = sum(x["std"] ** 2 / x["seeds"] + x["mean"] * (1 - x["mean"]) / n for x in (a, b))
    width = 1.96 * math.sqrt(variance)
    return diff, width, abs(diff) < max(width, a["std"], b["std"])


def beats(a: dict, b: dict, n: int) -> bool:
    """a's mean test accuracy is above b's by more than the noise (not a tie)."""
    diff, _, tie = difference(a, b, n)
    return diff > 0 and not tie


def compared(diff: float, width: float, tie: bool, other: str, other_mean: float) -> str:
    """'2.2 points above the LSTM (93.1 %; ± 1.9 points)' with ': a tie' inside the noise."""
    return (f"{points(abs(diff))} {'above' if diff > 0 else 'below'} the {other} ({pct(other_mean)}; "
            f"± {points(width)}{': a tie' if tie else ''})")


def versus(name: str, earlier: list[str], accuracy: dict[str, dict], n: int) -> str:
    """How `name`'s mean test accuracy compares with each earlier model's; a difference inside the noise is a tie."""
    if not earlier:
        return ""
    parts = [compared(*difference(accuracy[name], accuracy[other], n), other.upper(), accuracy[other]["mean"])
             for other in earlier]
    return f"Mean test accuracy {pct(accuracy[name]['mean'])}: " + ", ".join(parts) + "."


def seed_table(r: dict) -> Table:
    """One row per seed: test and validation scores, kept and last epoch."""
    rows = pd.DataFrame(r["per_seed"])[["seed", "test_accuracy", "val_accuracy", "val_cross_entropy",
                                        "test_cross_entropy", "best_epoch", "stopped_epoch"]]
    return Table(rows)


def spread_text(x: dict) -> str:
    """'93.6 % (std 3.0 points, 90.5 % to 96.5 %)'."""
    return f"{pct(x['mean'])} (std {points(x['std'])}, {pct(x['min'])} to {pct(x['max'])})"


def model_part(src: Sources, q3: dict, name: str, earlier: list[str], accuracy: dict[str, dict], n: int
               ) -> list[Block]:
    """Q3 (a), (b) or (c) for one model: settings, per-seed scores, the median seed's curves and confusion matrices."""
    letter, what = PARTS[name]
    r = src.json(paths.Q3_TRAIN_RESULTS / name / paths.RESULT)
    upper, median, k = name.upper(), r["median_seed"], len(r["seeds"])
    shown = f"seed {median}, the median validation cross-entropy of the {k} seeds"
    median_result = src.json(paths.Q3_TRAIN_RESULTS / name / seed_folder(median) / paths.RESULT)
    return [
        Heading(3, f"Q3 ({letter}) {upper}"),
        Paragraph(f"Classifier with {what}: " + settings(q3["models"][name], q3)),
        Paragraph(f"Trained with {k} seeds ({', '.join(map(str, r['seeds']))}); each seed draws its own validation "
                  f"split, initialisation{augmentation(q3['models'][name])}. "
                  f"Test accuracy {spread_text(r['test_accuracy'])}; "
                  f"validation accuracy {spread_text(r['val_accuracy'])}, validation cross-entropy "
                  f"{num(r['val_cross_entropy']['mean'], 3)} (mean). {r['parameters']} parameters."),
        seed_table(r),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "curve.png",
                   f"{upper}, {shown}: cross-entropy and error rate per epoch, training subset and validation set "
                   "(grey: the other seeds' validation curves)."),
        Paragraph(f"For {shown}, training stopped after epoch {median_result['stopped_epoch']} — "
                  f"{median_result['stop_reason']}. The parameters of epoch {median_result['best_epoch']} are kept: "
                  f"training accuracy {pct(median_result['train_accuracy'])}."),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_train.png",
                   f"{upper}, {shown}: confusion matrix on the training set."),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_test.png",
                   f"{upper}, {shown}: confusion matrix on the test set."),
        Bullets(tuple(s for s in (confusion_sentence(src.csv(paths.Q3_TRAIN_RESULTS / name / seed_folder(median)
                                                             / "confusion_test.csv")),
                                  versus(name, earlier, accuracy, n)) if s)),
    ]


def ranking(names: list[str], accuracy: dict[str, dict], table: pd.DataFrame, n: int) -> tuple[str, ...]:
    """Computed comparison of all models: best mean and margins (ties named), size, kept epochs."""
    ranked = sorted(names, key=lambda m: -accuracy[m]["mean"])
    best = ranked[0]
    margins = [compared(*difference(accuracy[best], accuracy[m], n), m.upper(), accuracy[m]["mean"])
               for m in ranked[1:]]
    tied = [m.upper() for m in ranked[1:] if difference(accuracy[best], accuracy[m], n)[2]]
    return (
        f"The {best.upper()} has the highest mean test accuracy, {pct(accuracy[best]['mean'])}"
        + (f": {', '.join(margins)}." if margins else ".")
        + (f" Within the noise of seeds and test set, the {best.upper()} is tied with the "
           f"{' and the '.join(tied)}." if tied else ""),
        "Parameters: " + ", ".join(f"{row['model'].upper()} {row['parameters']}" for _, row in table.iterrows())
        + "; kept epochs per seed: "
        + ", ".join(f"{row['model'].upper()} {row['best_epochs']}" for _, row in table.iterrows()) + ".",
    )


def gating(names: list[str], accuracy: dict[str, dict], n: int) -> str:
    """Why gates help, stated only as far as the numbers support it (a tie is not a win)."""
    if "rnn" not in names or len(names) < 2:
        return ""
    gated = [m for m in names if m != "rnn"]
    beaten = [m.upper() for m in gated if beats(accuracy[m], accuracy["rnn"], n)]
    if len(beaten) == len(gated):
        return ("Both gated models beat the vanilla RNN beyond the noise. Through a long window the RNN's gradient "
                "is a product of one Jacobian per step and fades or explodes; the additive, gated state updates of "
                "the LSTM and GRU carry it across the whole window, so early steps still shape the weights."
                if len(gated) == 2 else f"The {beaten[0]} beats the vanilla RNN beyond the noise.")
    return (f"Gating helped only partly here: {', '.join(beaten) or 'no gated model'} beat the vanilla RNN "
            f"({pct(accuracy['rnn']['mean'])}) beyond the noise of seeds and test set.")


def q3_section(src: Sources, params: dict) -> list[Block]:
    """Q3 (a)-(c) in the order of params.yaml q3.models, then the comparison."""
    q3 = params["q3"]
    names = list(q3["models"])
    summaries = {m: src.json(paths.Q3_TRAIN_RESULTS / m / paths.RESULT) for m in names}
    accuracy = {m: {**s["test_accuracy"], "seeds": len(s["seeds"])} for m, s in summaries.items()}
    first = summaries[names[0]]
    first_seed = src.csv(paths.Q3_TRAIN_RESULTS / names[0] / seed_folder(first["median_seed"]) / "confusion_test.csv")
    n = int(first_seed.drop(columns="true").to_numpy().sum())
    baseline = src.json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json")
    base = {**baseline["test_accuracy"], "seeds": len(baseline["seeds"])}
    blocks: list[Block] = [
        Heading(2, "Q3 — Human activity from acceleration signals"),
        Paragraph(f"Every model reads the {'standardised ' if q3['standardise'] else ''}3-axis signal over the "
                  "whole window; the last hidden state goes through the MLP head. Validation holds whole "
                  f"recordings: the {first['recordings']} recordings of the training file were found in the data "
                  f"(windows that share samples), and {first['val_overlapping_train']} of the validation windows "
                  f"({', '.join(map(str, first['val_windows']))} per seed) share a sample with a training window. "
                  f"The test set ({n} windows) gives an accuracy to about ± {points(half_width(0.9, n))} (95 %, at "
                  "90 %); the comparisons below add the seed-to-seed spread to that."),
    ]
    for i, name in enumerate(names):
        blocks += model_part(src, q3, name, names[:i], accuracy, n)
    table = src.csv(paths.Q3_COMPARE_RESULTS / "comparison.csv")
    above = [m.upper() for m in names if beats(accuracy[m], base, n)]
    blocks += [
        Heading(3, "Q3 comparison of " + ", ".join(m.upper() for m in names)),
        Table(table),
        src.figure(paths.Q3_COMPARE_PLOTS / "comparison.png",
                   "Mean test accuracy per model with every seed as a dot and the range as a line (left); "
                   "validation error per epoch of each model's median seed (right)."),
        Bullets((*ranking(names, accuracy, table, n),
                 f"Baseline (`q3_baseline`): softmax regression on {baseline['features']} summary statistics of a "
                 f"window reaches {spread_text(baseline['test_accuracy'])} on the test set over the same "
                 f"{len(baseline['seeds'])} validation splits (weight decay chosen on validation: "
                 + ", ".join(f"{r['weight_decay']:g}" for r in baseline["per_seed"]) + "); the recurrent models "
                 "above it beyond the noise are what the sequence adds: " + (", ".join(above) or "none") + ".")),
    ]
    text = gating(names, accuracy, n)
    return blocks + ([Paragraph(text)] if text else [])
