"""Report section Q3 (a)-(c): the recurrent classifiers of params.yaml q3.models, from metrics/q3.json and
results/q3/. Everything said of an entry comes from its settings (cell, layers, recipe), never from its name; every
comparison from results/q3/compare/differences.csv (pipeline.q3.compare): a verdict word comes from its Holm-adjusted
p-value, and only when the second seed set (replication/q3, tools/replicate.py) gives the same word."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common import paths
from pipeline.common.document import Block, Bullets, Heading, Paragraph, Table
from pipeline.common.seeds import seed_folder, summary_numbers
from pipeline.q3.compare import BASELINE, DIFFERENCE_COLUMNS, TABLE_COLUMNS
from pipeline.q3.intervals import DRAWS
from pipeline.q3.params import CELLS, architecture, augmented
from pipeline.q3.train import SPREAD_KEYS
from pipeline.report.sources import Sources, num, pct, points

PARTS = {"rnn": "a", "lstm": "b", "gru": "c"}  # the assignment's part for each cell
SUMMARY_NUMBERS = (*summary_numbers(SPREAD_KEYS), "parameters", "trials", "val_overlapping_train", "val_windows")
DIFFERENCE_NUMBERS = ("difference", "half_width", "p_value", "p_adjusted")
REPLICATION = Path("replication/q3")  # tools/replicate.py: differences.csv and params.json of a second seed set
TABLE_NUMBERS = [c for c in TABLE_COLUMNS if "accuracy" in c or "cross_entropy" in c or c == "parameters"]


def confusions(matrix: pd.DataFrame, count: int = 2) -> list[tuple[str, str, int, int]]:
    """The `count` largest off-diagonal cells of a confusion table: (true, predicted, cases, row total).

    matrix: first column 'true' (class names), then one 'pred_<class>' column per class (counts).
    """
    counts = matrix.set_index("true")
    counts.columns = [c.removeprefix("pred_") for c in counts.columns]
    cells = [(t, p, int(counts.loc[t, p]), int(counts.loc[t].sum()))
             for t in counts.index for p in counts.columns if t != p and counts.loc[t, p] > 0]
    return sorted(cells, key=lambda cell: (-cell[2], cell[0], cell[1]))[:count]


def read_confusion(src: Sources, relative) -> pd.DataFrame:
    """A confusion table (see `confusions`), checked: a count column pred_<class> for every class of its rows."""
    classes = src.csv(relative, ("true",))["true"]
    return src.csv(relative, ("true",), [f"pred_{c}" for c in classes])


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
    arch = architecture(model["cell"], model["layers"], model["hidden"])
    return (f"{arch[:1].upper()}{arch[1:]} ({model['recurrent_init']} recurrent "
            f"initialisation), MLP head "
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


def seed_table(r: dict) -> Table:
    """One row per seed: test and validation scores, kept and last epoch."""
    rows = pd.DataFrame(r["per_seed"])[["seed", "test_accuracy", "val_accuracy", "val_cross_entropy",
                                        "test_cross_entropy", "best_epoch", "stopped_epoch"]]
    return Table(rows)


def spread_text(x: dict) -> str:
    """'93.6 % (std 3.0 points, 90.5 % to 96.5 %)'."""
    return f"{pct(x['mean'])} (std {points(x['std'])}, {pct(x['min'])} to {pct(x['max'])})"


def as_percent(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as shown: accuracies in %, their spread in points (comparison.csv keeps fractions)."""
    return table.assign(**{c: table[c].map(points if c.endswith("_std") else pct)
                           for c in table.columns if "accuracy" in c})


def test_interval(name: str, table: pd.DataFrame) -> str:
    """'95 % interval 95.1 % to 98.2 %' (bootstrap over test trials) for one entry of the comparison table."""
    row = table.set_index("model").loc[name]
    return f"95 % interval {pct(row['test_accuracy_low'])} to {pct(row['test_accuracy_high'])}"


def model_part(src: Sources, q3: dict, name: str, table: pd.DataFrame) -> list[Block]:
    """One entry: what it is, settings, per-seed scores, the median seed's curves and confusion matrices."""
    model = q3["models"][name]
    r = src.json(paths.Q3_TRAIN_RESULTS / name / paths.RESULT, numbers=SUMMARY_NUMBERS)
    median, k = r["median_seed"], len(r["seeds"])
    shown = f"seed {median}, the median validation cross-entropy of the {k} seeds"
    median_result = src.json(paths.Q3_TRAIN_RESULTS / name / seed_folder(median) / paths.RESULT, ("stop_reason",),
                             ("stopped_epoch", "best_epoch", "train_accuracy"))
    return [
        Heading(4, f"`{name}`: {architecture(model['cell'], model['layers'], model['hidden'])}"
                + ("" if augmented(model) else ", no augmentation")),
        Paragraph(settings(model, q3)),
        Paragraph(f"Trained with {k} seeds ({', '.join(map(str, r['seeds']))}); each seed draws its own validation "
                  f"split, initialisation{augmentation(model)}. "
                  f"Test accuracy {spread_text(r['test_accuracy'])}, {test_interval(name, table)}; "
                  f"validation accuracy {spread_text(r['val_accuracy'])}, validation cross-entropy "
                  f"{num(r['val_cross_entropy']['mean'], 3)} (mean). {r['parameters']} parameters."),
        seed_table(r),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "curve.png",
                   f"`{name}`, {shown}: cross-entropy and error rate per epoch, training subset and validation set "
                   "(grey: the other seeds' validation curves)."),
        Paragraph(f"For {shown}, training stopped after epoch {median_result['stopped_epoch']} — "
                  f"{median_result['stop_reason']}. The parameters of epoch {median_result['best_epoch']} are kept: "
                  f"training accuracy {pct(median_result['train_accuracy'])}."),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_train.png",
                   f"`{name}`, {shown}: confusion matrix on the training set."),
        src.figure(paths.Q3_TRAIN_PLOTS / name / "confusion_test.png",
                   f"`{name}`, {shown}: confusion matrix on the test set."),
        Bullets((confusion_sentence(read_confusion(src, paths.Q3_TRAIN_RESULTS / name / seed_folder(median)
                                                   / "confusion_test.csv")),)),
    ]


UNSETTLED = "not settled by the seeds"  # what the report says where the two seed sets give other verdict words


def verdicts(diffs: pd.DataFrame, replication: pd.DataFrame | None) -> pd.DataFrame:
    """diffs with a `verdict` column, a's side of each pair: "better", "worse", "tie" (Holm-adjusted p >= 0.05), or
    "unsettled" where the replication (same pairs, other seeds) gives another of those words."""
    def word(row: pd.Series) -> str:
        return "tie" if row["tie"] else "better" if row["difference"] > 0 else "worse"

    own = diffs.apply(word, axis=1) if len(diffs) else pd.Series([], dtype=str)
    if replication is not None:
        other = {(r["a"], r["b"]): word(r) for _, r in replication.iterrows()}
        own = pd.Series([w if other.get((a, b), w) == w else "unsettled"
                         for w, a, b in zip(own, diffs["a"], diffs["b"], strict=True)], index=diffs.index)
    return diffs.assign(verdict=own)


def margin(row: pd.Series, mean: dict[str, float]) -> str:
    """'`gru` 97.8 % vs `lstm` 93.1 %: 4.7 points ± 3.1 (p = 0.01, Holm-adjusted 0.04)' with ', a tie' or ', not
    settled by the seeds' when the verdict is one."""
    return (f"`{row['a']}` {pct(mean[row['a']])} vs `{row['b']}` {pct(mean[row['b']])}: "
            f"{'+' if row['difference'] >= 0 else '−'}{points(abs(row['difference']))} ± "
            f"{points(row['half_width']).removesuffix(' points')} (p = {row['p_value']:.2g}, Holm-adjusted "
            f"{row['p_adjusted']:.2g})"
            + {"tie": ", a tie", "unsettled": f", {UNSETTLED}"}.get(row["verdict"], ""))


def cell_groups(diffs: pd.DataFrame) -> list[list[str]]:
    """Entries compared as cells at one recipe, grouped (connected by the 'cell' rows), in params order."""
    groups: list[list[str]] = []
    for _, row in diffs[diffs["question"] == "cell"].iterrows():
        group = next((g for g in groups if row["a"] in g or row["b"] in g), None)
        if group is None:
            groups.append([row["a"], row["b"]])
        else:
            group += [m for m in (row["a"], row["b"]) if m not in group]
    return groups


def cells_at_one_recipe(group: list[str], q3: dict, diffs: pd.DataFrame, mean: dict[str, float]) -> str:
    """Which cell is best at one recipe, as far as the tests allow: the best mean, its margin over every other entry
    of the group that was compared with it, and the ties."""
    ranked = sorted(group, key=lambda m: -mean[m])
    recipe = "with augmentation" if augmented(q3["models"][group[0]]) else "without augmentation"
    best = ranked[0]
    rows = [row for m in ranked[1:] if (row := pair(diffs, best, m)) is not None]
    tied = [row["b"] for row in rows if row["verdict"] == "tie"]
    open_ = [row["b"] for row in rows if row["verdict"] == "unsettled"]
    beaten = [row["b"] for row in rows if row["verdict"] == "better"]

    def names(ms: list[str]) -> str:
        return " and ".join(f"`{m}`" for m in ms)

    but = [*([f"it is tied with {names(tied)}"] if tied else []),
           *([f"it is {UNSETTLED} against {names(open_)}"] if open_ else [])]
    verdict = (f"`{best}` is best beyond the noise" if not but
               else f"`{best}` has the highest mean, but " + "; ".join(but)
               + (f" (and beats {names(beaten)})" if beaten else ""))
    return (f"Cells at one recipe ({recipe}: " + ", ".join(f"`{m}`" for m in group) + f"): {verdict}. "
            + "; ".join(margin(row, mean) for row in rows) + ".")


def pair(diffs: pd.DataFrame, a: str, b: str) -> pd.Series | None:
    """The row comparing a with b (difference a - b), from either order of differences.csv; None when the two were
    not compared (they differ in more than one thing)."""
    found = diffs[(diffs["a"] == a) & (diffs["b"] == b)]
    if len(found):
        return found.iloc[0]
    found = diffs[(diffs["a"] == b) & (diffs["b"] == a)]
    if not len(found):
        return None
    row = found.iloc[0].copy()
    row["a"], row["b"], row["difference"] = a, b, -row["difference"]
    row["verdict"] = {"better": "worse", "worse": "better"}.get(row["verdict"], row["verdict"])
    return row


def recipe_effect(row: pd.Series, q3: dict, diffs: pd.DataFrame, mean: dict[str, float]) -> str:
    """What one aspect of the recipe does to one cell: the augmented (else the earlier) entry minus the other."""
    a, b = row["a"], row["b"]
    if row["aspect"] == "augmentation" and not augmented(q3["models"][a]):
        a, b = b, a
    effect = pair(diffs, a, b)
    what = "Augmentation" if row["aspect"] == "augmentation" else f"The {row['aspect']}"
    verdict = {"tie": "changes nothing beyond the noise", "unsettled": UNSETTLED, "better": "helps",
               "worse": "hurts"}[effect["verdict"]]
    return f"{what} ({CELLS[q3['models'][a]['cell']]}): {verdict}; " + margin(effect, mean) + "."


def gating(group: list[str], q3: dict, diffs: pd.DataFrame) -> str:
    """Why gates help, stated only as far as the tests support it, for one group of cells at one recipe."""
    cell_of = {m: q3["models"][m]["cell"] for m in group}
    plain = [m for m in group if cell_of[m] == "rnn"]
    gated = [m for m in group if cell_of[m] != "rnn"]
    if not plain or not gated:
        return ""
    found = {m: r["verdict"] for m in gated if (r := pair(diffs, m, plain[0])) is not None}
    beaten = [m for m, v in found.items() if v == "better"]
    if "unsettled" in found.values():
        return (f"At this recipe whether a gated entry beats the vanilla RNN (`{plain[0]}`) is {UNSETTLED}: the two "
                "seed sets disagree, so the report does not say that gates help here.")
    if len(beaten) == len(gated):
        cells = " and ".join(dict.fromkeys(CELLS[cell_of[m]] for m in gated))
        return (f"At this recipe every gated entry ({', '.join(f'`{m}`' for m in gated)}) beats the vanilla RNN beyond "
                "the noise. Through a long window the RNN's gradient is a product of one Jacobian per step and fades "
                f"or explodes; the additive, gated state updates of the {cells} carry it across the whole window.")
    if not beaten:
        return (f"At this recipe no gated entry ({', '.join(f'`{m}`' for m in gated)}) beats the vanilla RNN "
                f"(`{plain[0]}`) beyond the noise of seeds and test set.")
    return (f"At this recipe gating helped only partly: {', '.join(f'`{m}`' for m in beaten)} beat the vanilla RNN "
            f"(`{plain[0]}`) beyond the noise of seeds and test set.")


def replication(src: Sources, q3: dict) -> tuple[pd.DataFrame | None, str]:
    """The second seed set's differences.csv (REPLICATION) when it was run at the settings of params.yaml q3 but the
    seeds, and a sentence saying what it is (or why it is not used)."""
    if not (src.root / REPLICATION / "params.json").exists():
        return None, ("No second seed set is on record (`python -m tools.replicate`), so these verdicts have not been "
                      "checked against other seeds.")
    ran = src.json(REPLICATION / "params.json", ("q3",), ("seeds",))
    if {k: v for k, v in ran["q3"].items() if k != "seeds"} != {k: v for k, v in q3.items() if k != "seeds"}:
        return None, (f"The second seed set on record ({REPLICATION}) was run at other settings than these, so these "
                      "verdicts have not been checked against other seeds (`python -m tools.replicate`).")
    other = src.csv(REPLICATION / "differences.csv", DIFFERENCE_COLUMNS, DIFFERENCE_NUMBERS)
    seeds = ", ".join(map(str, ran["seeds"]))
    return other, (f"Every comparison was also run with a disjoint seed set ({seeds}, {REPLICATION}); a verdict word "
                   f"is stated only where both seed sets give it, and is \"{UNSETTLED}\" where they differ.")


def units_sentence(units: dict, degrees: float) -> str:
    """What the trial grouping made of the two files (results/q3/compare/units.json)."""
    trials, fragments = units["test"]["trials"], units["test"]["fragments"]
    return (f"The unit of the validation split and of the test bootstrap is the trial (one person doing one activity "
            f"once), found in the data (pipeline/q3/trials.py): windows sharing samples are fragments, and fragments "
            f"of one class held at the same phone orientation (mean gravity directions within "
            f"{num(degrees)}°) are one trial. The training file has {units['train_trials']} trials; the "
            f"{units['test']['windows']} test windows are {trials['units']} trials ({trials['single_window_units']} of "
            f"a single window, median {num(trials['windows_per_unit_median'])} windows, at most "
            f"{trials['windows_per_unit_max']}) and {fragments['units']} fragments "
            f"({fragments['single_window_units']} single windows). This is trial level, not person level: two trials "
            "of one person are two units.")


def q3_section(src: Sources, params: dict) -> list[Block]:
    """Q3 (a)-(c): the entries of params.yaml q3.models grouped by cell, then the two comparisons."""
    q3 = params["q3"]
    names = list(q3["models"])
    table = src.csv(paths.Q3_COMPARE_RESULTS / "comparison.csv", TABLE_COLUMNS, TABLE_NUMBERS, rows=len(names),
                    index=("model", names))
    diffs = src.csv(paths.Q3_COMPARE_RESULTS / "differences.csv", DIFFERENCE_COLUMNS, DIFFERENCE_NUMBERS,
                    index=("b", [BASELINE]))
    other, replicated = replication(src, q3)
    diffs = verdicts(diffs, other)
    units = src.json(paths.Q3_COMPARE_RESULTS / "units.json", (), ("train_trials", "test.windows"))
    summaries = {m: src.json(paths.Q3_TRAIN_RESULTS / m / paths.RESULT, numbers=SUMMARY_NUMBERS) for m in names}
    mean = {m: s["test_accuracy"]["mean"] for m, s in summaries.items()}
    baseline = src.json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json", ("features",),
                        ("seeds", "per_seed.weight_decay", *summary_numbers(("test_accuracy",))[-4:]))
    interval = src.json(paths.Q3_COMPARE_RESULTS / "baseline_interval.json", numbers=("low", "high"))
    mean[BASELINE] = baseline["test_accuracy"]["mean"]
    first = summaries[names[0]]
    blocks: list[Block] = [
        Heading(2, "Q3 — Human activity from acceleration signals"),
        Paragraph(f"Every model reads the {'standardised ' if q3['standardise'] else ''}3-axis signal over the "
                  "whole window; the last hidden state goes through the MLP head. "
                  + units_sentence(units, q3["trial_degrees"])
                  + f" Validation holds whole trials of the training file ({', '.join(map(str, first['val_windows']))}"
                  f" windows per seed; {first['val_overlapping_train']} share a sample with a training window). A "
                  f"test accuracy's 95 % interval comes from a bootstrap over the test file's trials ({DRAWS} draws; "
                  "with fragments as the unit it would be narrower, `results/q3/compare/intervals.csv`). It describes "
                  f"the people of the test file: their trials are resampled, new people are not, so an accuracy on "
                  "other people can fall outside it."),
        Paragraph(f"A difference between two entries is judged by a t-test that adds the seed-to-seed variance of "
                  "each mean (Welch–Satterthwaite degrees of freedom: with 3 seeds the spread itself is uncertain) to "
                  f"the test set's (the same bootstrap, paired). The {len(diffs)} comparisons of this section are one "
                  "family: each p-value is Holm-adjusted over all of them, and a difference whose adjusted p is "
                  "≥ 0.05 is called a tie (the ± is the unadjusted 95 % half-width). " + replicated),
    ]
    for cell in dict.fromkeys(q3["models"][m]["cell"] for m in names):
        members = [m for m in names if q3["models"][m]["cell"] == cell]
        blocks.append(Heading(3, f"Q3 ({PARTS[cell]}) {CELLS[cell]}: " + ", ".join(f"`{m}`" for m in members)))
        for name in members:
            blocks += model_part(src, q3, name, table)
    groups = cell_groups(diffs)
    effects = diffs[diffs["question"] == "recipe"]
    above = [m for m in names if (r := pair(diffs, m, BASELINE)) is not None and r["verdict"] == "better"]
    blocks += [
        Heading(3, "Q3 comparison: the cells at one recipe, and what the recipe adds"),
        Paragraph("Two questions are kept apart. Which cell is better is asked only of entries trained with one "
                  "recipe (they may differ in the learning rate, epochs and patience chosen per cell on validation); "
                  "what the recipe adds is asked of entries of one cell that differ in one aspect of it. The headline "
                  f"recipe is that of the first entry, `{names[0]}`; params.yaml records how it was chosen, on "
                  "validation only."),
        Table(as_percent(table)),
        src.figure(paths.Q3_COMPARE_PLOTS / "comparison.png",
                   "Mean test accuracy per entry grouped by cell, every seed a dot and the range a line, hatched "
                   "without augmentation (left); validation accuracy per epoch of each entry's median seed (right)."),
        Bullets((*(cells_at_one_recipe(g, q3, diffs, mean) for g in groups),
                 *(recipe_effect(row, q3, diffs, mean) for _, row in effects.iterrows()),
                 f"Baseline (`q3_baseline`): softmax regression on {baseline['features']} summary statistics of a "
                 f"window reaches {spread_text(baseline['test_accuracy'])} on the test set (95 % interval over the "
                 f"test trials {pct(interval['low'])} to {pct(interval['high'])}) over the same "
                 f"{len(baseline['seeds'])} validation splits (weight decay chosen on validation: "
                 + ", ".join(f"{r['weight_decay']:g}" for r in baseline["per_seed"]) + "); the entries above it "
                 "beyond the noise are what the sequence adds: " + (", ".join(f"`{m}`" for m in above) or "none")
                 + ".")),
    ]
    texts = [t for g in groups if (t := gating(g, q3, diffs))]
    return blocks + [Paragraph(t) for t in texts]
