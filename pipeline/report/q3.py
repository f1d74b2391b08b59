"""Report section Q3 (a)-(c): RNN, LSTM and GRU classifiers, from metrics/q3.json and results/q3/."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.common import paths
from pipeline.common.document import Block, Bullets, Heading, Paragraph, Table
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


def half_width(accuracy: float, n: int) -> float:
    """95 % normal-approximation half-width of an accuracy measured on n windows: 1.96 sqrt(p (1 - p) / n)."""
    return 1.96 * math.sqrt(accuracy * (1 - accuracy) / n)


def difference(a: float, b: float, n: int) -> tuple[float, float]:
    """a - b and the 95 % half-width of that difference (two accuracies on the same n windows, as independent)."""
    return a - b, 1.96 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


def versus(name: str, earlier: list[str], accuracy: dict[str, float], n: int) -> str:
    """How `name`'s test accuracy compares with each earlier model's; a difference inside its interval is a tie."""
    if not earlier:
        return ""
    parts = []
    for other in earlier:
        diff, width = difference(accuracy[name], accuracy[other], n)
        tie = ": a tie" if abs(diff) < width else ""
        parts.append(f"{points(abs(diff))} {'above' if diff > 0 else 'below'} the {other.upper()} "
                     f"({pct(accuracy[other])}; ± {points(width)}{tie})")
    return (f"Test accuracy {pct(accuracy[name])} ± {points(half_width(accuracy[name], n))} (95 %, {n} windows): "
            + ", ".join(parts) + ".")


def model_part(src: Sources, q3: dict, name: str, earlier: list[str], accuracy: dict[str, float], n: int
               ) -> list[Block]:
    """Q3 (a), (b) or (c) for one model: settings, curves, confusion matrices, computed remarks."""
    letter, what = PARTS[name]
    r = src.json(paths.Q3_TRAIN_RESULTS / name / paths.RESULT)
    upper = name.upper()
    return [
        Heading(3, f"Q3 ({letter}) {upper}"),
        Paragraph(f"Classifier with {what}: " + settings(q3["models"][name], q3)),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "curve.png",
                   f"{upper}: cross-entropy and error rate per epoch, training "
                   "subset and validation set."),
        Paragraph(
            f"Training stopped after epoch {r['stopped_epoch']} — {r['stop_reason']}. The parameters of epoch "
            f"{r['best_epoch']} are kept: training accuracy {pct(r['train_accuracy'])}, validation accuracy "
            f"{pct(r['val_accuracy'])} (cross-entropy {num(r['val_cross_entropy'], 3)}), test accuracy "
            f"{pct(accuracy[name])} (cross-entropy {num(r['test_cross_entropy'], 3)}). "
            f"{r['parameters']} parameters."
        ),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_train.png",
                   f"{upper}: confusion matrix on the training set."),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_test.png", f"{upper}: confusion matrix on the test set."),
        Bullets(tuple(s for s in (confusion_sentence(src.csv(paths.Q3_TRAIN_RESULTS / name / "confusion_test.csv")),
                                  versus(name, earlier, accuracy, n)) if s)),
    ]


def ranking(table: pd.DataFrame, n: int) -> tuple[str, ...]:
    """Computed comparison of all models: best and margins (ties named), size, kept epochs."""
    ranked = table.sort_values("test_accuracy", ascending=False).reset_index(drop=True)
    best = ranked.iloc[0]
    margins = []
    for _, row in ranked.iloc[1:].iterrows():
        diff, width = difference(best["test_accuracy"], row["test_accuracy"], n)
        margins.append(f"{points(diff)} above the {row['model'].upper()} (± {points(width)}"
                       + (": a tie)" if diff < width else ")"))
    return (
        f"The {best['model'].upper()} scored highest on the test set, {pct(best['test_accuracy'])}"
        + (f": {', '.join(margins)}." if margins else ".")
        + " One seed per model: seed-to-seed differences are not in these intervals.",
        "Parameters: " + ", ".join(f"{row['model'].upper()} {row['parameters']}" for _, row in table.iterrows())
        + "; kept epochs: " + ", ".join(f"{row['model'].upper()} {row['best_epoch']}" for _, row in table.iterrows())
        + ".",
    )


def gating(accuracy: dict[str, float]) -> str:
    """Why gates help, stated only as far as the numbers support it."""
    if "rnn" not in accuracy or len(accuracy) < 2:
        return ""
    gated = {m: a for m, a in accuracy.items() if m != "rnn"}
    beaten = [m.upper() for m, a in gated.items() if a > accuracy["rnn"]]
    if len(beaten) == len(gated):
        return ("Both gated models beat the vanilla RNN. Through a long window the RNN's gradient is a product of "
                "one Jacobian per step and fades or explodes; the additive, gated state updates of the LSTM and GRU "
                "carry it across the whole window, so early steps still shape the weights."
                if len(gated) == 2 else f"The {beaten[0]} beats the vanilla RNN.")
    return (f"Gating helped only partly here: {', '.join(beaten) or 'no gated model'} beat the vanilla RNN "
            f"({pct(accuracy['rnn'])}).")


def q3_section(src: Sources, params: dict) -> list[Block]:
    """Q3 (a)-(c) in the order of params.yaml q3.models, then the comparison."""
    q3 = params["q3"]
    names = list(q3["models"])
    metrics = src.json(paths.Q3_METRICS)
    accuracy = {name: metrics[name]["test_accuracy"] for name in names}
    first = src.json(paths.Q3_TRAIN_RESULTS / names[0] / paths.RESULT)
    n = int(src.csv(paths.Q3_TRAIN_RESULTS / names[0] / "confusion_test.csv").drop(columns="true").to_numpy().sum())
    baseline = src.json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json")
    blocks: list[Block] = [
        Heading(2, "Q3 — Human activity from acceleration signals"),
        Paragraph(f"Every model reads the {'standardised ' if q3['standardise'] else ''}3-axis signal over the "
                  "whole window; the last hidden state goes through the MLP head. The curves show the validation "
                  f"error per epoch. Validation holds whole recordings: the {first['recordings']} recordings of the "
                  "training file were found in the data (windows that share samples), and "
                  f"{first['val_overlapping_train']} of the {first['val_windows']} validation windows share a sample "
                  "with a training window."),
    ]
    for i, name in enumerate(names):
        blocks += model_part(src, q3, name, names[:i], accuracy, n)
    table = src.csv(paths.Q3_COMPARE_RESULTS / "comparison.csv")
    blocks += [
        Heading(3, "Q3 comparison of " + ", ".join(n.upper() for n in names)),
        Table(table),
        src.figure(paths.Q3_COMPARE_PLOTS / "comparison.png",
                   "Test accuracy per model (left) and validation error per epoch "
                   "(right)."),
        Bullets((*ranking(table, n),
                 f"Baseline (`q3_baseline`): softmax regression on {baseline['features']} summary statistics of a "
                 f"window reaches {pct(baseline['test_accuracy'])} on the test set (weight decay "
                 f"{baseline['weight_decay']:g}, chosen on validation); the recurrent models above it by more than "
                 "the interval are what the sequence adds: "
                 + (", ".join(m.upper() for m in names
                              if difference(accuracy[m], baseline["test_accuracy"], n)[0]
                              > difference(accuracy[m], baseline["test_accuracy"], n)[1]) or "none") + ".")),
    ]
    return blocks + ([Paragraph(gating(accuracy))] if gating(accuracy) else [])
