"""Report section Q2 (a)-(b): trigram language model, from metrics/q2.json and results/q2/."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.common import paths
from pipeline.common.document import Block, Bullets, Heading, Paragraph, Table
from pipeline.common.seeds import LEVEL, holm_adjusted, mean_difference_test, one_seed, summary_numbers
from pipeline.q2.data import VOCAB_SIZE
from pipeline.report.sources import Sources, num, pct

SUMMARY_NUMBERS = (*summary_numbers(("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy")),
                   "dim", "hidden", "parameters")  # of each results/q2/train/<name>/result.json


def label(result: dict) -> str:
    return f"(D, P) = ({result['dim']}, {result['hidden']})"


def network_table(src: Sources, names: list[str], results: dict[str, dict]) -> pd.DataFrame:
    """One row per network: means over the seeds of validation and test CE / accuracy, the validation CE's std,
    kept epochs per seed, and the training CE of the median seed at its kept epoch."""
    rows = []
    for name in names:
        r = results[name]
        median = next(row for row in r["per_seed"] if row["seed"] == r["median_seed"])
        curve = one_seed(src.csv(paths.Q2_TRAIN_PLOTS / name / paths.CURVES,
                                 numeric=("epoch", "seed", "train_cross_entropy")), r["median_seed"])
        rows.append({
            "network": label(r), "parameters": r["parameters"],
            "kept epochs": " ".join(str(row["best_epoch"]) for row in r["per_seed"]),
            "train CE": float(curve.loc[curve["epoch"] == median["best_epoch"], "train_cross_entropy"].iloc[0]),
            "val CE": r["val_cross_entropy"]["mean"], "val CE std": r["val_cross_entropy"]["std"],
            "val accuracy": r["val_accuracy"]["mean"],
            "test CE": r["test_cross_entropy"]["mean"], "test accuracy": r["test_accuracy"]["mean"],
        })
    return pd.DataFrame(rows)


def ce_differences(best: pd.Series, others: list[pd.Series], seeds: int) -> list[tuple[float, float, bool]]:
    """(b - best, Holm-adjusted p, tie) of the mean validation CEs of the best network and each other one b. The
    ranking's comparisons are one family: a t-test over the seeds each (pipeline.common.seeds.mean_difference_test from
    the means and stds, Welch-Satterthwaite degrees of freedom), Holm-adjusted over them; a tie where the adjusted
    p >= 0.05, or the margin is smaller than the larger seed std. The validation set's own sampling noise is not in
    the test (the per-trigram losses are not kept): both networks are scored on the same 46,500 trigrams, and the
    standard error of that paired difference is about the size of the seed std, which is why a margin below the
    larger std is a tie as well."""
    diffs = [b["val CE"] - best["val CE"] for b in others]
    p_values = [mean_difference_test(d, [(best["val CE std"], seeds), (b["val CE std"], seeds)])["p_value"]
                for d, b in zip(diffs, others, strict=True)]
    return [(d, adjusted, adjusted >= 1 - LEVEL or abs(d) < max(best["val CE std"], b["val CE std"]))
            for d, adjusted, b in zip(diffs, holm_adjusted(p_values), others, strict=True)]


def comparison(table: pd.DataFrame, seeds: int) -> tuple[str, ...]:
    """Computed sentences: best network by mean validation CE and its margins (ties named), perplexity, overfitting."""
    ranked = table.sort_values("val CE").reset_index(drop=True)
    best = ranked.iloc[0]
    others = [row for _, row in ranked.iloc[1:].iterrows()]
    margins = [f"{num(diff, 3)} below {row['network']} (Holm-adjusted p = {adjusted:.2g})" + (": a tie" if tie else "")
               for row, (diff, adjusted, tie) in zip(others, ce_differences(best, others, seeds), strict=True)]
    return (
        f"{best['network']} has the lowest mean validation cross-entropy over {seeds} seeds, {num(best['val CE'])} "
        f"(std {num(best['val CE std'], 2)})" + (f" ({', '.join(margins)})." if margins else "."),
        "As perplexities (e^CE, the effective number of equally likely next words): "
        + ", ".join(f"{row['network']} {math.exp(row['val CE']):.1f}" for _, row in table.iterrows())
        + f", against {VOCAB_SIZE} for guessing uniformly over the vocabulary (CE {num(math.log(VOCAB_SIZE))}).",
        "Mean test cross-entropy ranks the networks as "
        + " < ".join(table.sort_values("test CE")["network"]) + "; mean test accuracy (top-1 word correct) ranges "
        f"from {pct(table['test accuracy'].min())} to {pct(table['test accuracy'].max())}.",
        overfitting(table),
    )


def beside_counts(table: pd.DataFrame, counts: dict) -> str:
    """Which networks predict better than counting (the interpolated 1- to 4-gram baseline), on validation."""
    better = table[table["val CE"] < counts["val_cross_entropy"]]["network"].tolist()
    return (f"The count baseline (interpolated 1- to 4-gram frequencies, weights fitted on validation, `q2_baseline`) "
            f"reaches validation cross-entropy {num(counts['val_cross_entropy'])} and test "
            f"{num(counts['test_cross_entropy'])} (test accuracy {pct(counts['test_accuracy'])}); "
            + (f"below it on validation (mean over seeds): {', '.join(better)}" if better
               else "no network is below it on validation (mean over seeds)")
            + (f"; not below it: {', '.join(n for n in table['network'] if n not in better)}."
               if len(better) < len(table) else "."))


def overfitting(table: pd.DataFrame) -> str:
    """Which network's validation CE exceeds its training CE most at the kept epoch (median seed), is it the largest?"""
    gaps = table["val CE"] - table["train CE"]
    if gaps.max() <= 0:
        return ("At the kept epoch every network's validation cross-entropy is at or below its training "
                "cross-entropy: no sign of overfitting yet.")
    widest = table.loc[gaps.idxmax()]
    largest = table.loc[table["parameters"].idxmax()]
    return (f"The gap between validation and training cross-entropy at the kept epoch is widest for "
            f"{widest['network']} ({num(float(gaps.max()), 3)}), "
            + ("the largest network: its extra parameters start to fit the training trigrams rather than the "
               "language." if widest["network"] == largest["network"] else
               f"not for the largest network {largest['network']} (gap {num(float(gaps[largest.name]), 3)})."))


def stopping(names: list[str], results: dict[str, dict], params: dict) -> str:
    """Per network: how many seeds early stopping ended before the epoch limit, and the kept epochs."""
    parts = []
    for name in names:
        r, limit = results[name], params["q2"]["sizes"][name]["epochs"]
        early = sum(row["stopped_epoch"] < limit for row in r["per_seed"])
        kept = ", ".join(str(row["best_epoch"]) for row in r["per_seed"])
        parts.append(f"{label(r)}: stopped early in {early} of {len(r['per_seed'])} seeds (limit {limit}), kept "
                     f"epochs {kept}")
    return "; ".join(parts) + "."


def per_network(sizes: dict, results: dict, key: str) -> str:
    """One q2.sizes setting of every network, e.g. '0.3 for (D, P) = (32, 256), 0.5 for (D, P) = (16, 128)'."""
    return ", ".join(f"{num(size[key])} for {label(results[name])}" for name, size in sizes.items())


def weight_decay(sizes: dict, results: dict) -> str:
    """The L2 weight decay of each network's matrices (models.optim.MomentumSGD), or that there is none."""
    if not any(size["weight_decay"] for size in sizes.values()):
        return "no weight decay"
    return "L2 weight decay of the matrices R, W1, W2 " + per_network(sizes, results, "weight_decay")


def training(src: Sources, params: dict) -> list[Block]:
    """Q2 (a): curves and the comparison of the (D, P) networks."""
    q2 = params["q2"]
    names = list(q2["sizes"])
    results = {name: src.json(paths.Q2_TRAIN_RESULTS / name / paths.RESULT, numbers=SUMMARY_NUMBERS) for name in names}
    seeds = len(results[names[0]]["seeds"])
    table = network_table(src, names, results)
    counts = src.json(paths.Q2_BASELINE_RESULTS / "counts.json",
                      numbers=("val_cross_entropy", "test_cross_entropy", "test_accuracy"))
    blocks: list[Block] = [
        Heading(3, f"Q2 (a) Training {len(names)} network sizes"),
        Paragraph(
            f"Each network maps the three words through one shared {VOCAB_SIZE} × D embedding, a sigmoid hidden "
            f"layer of P units and a {VOCAB_SIZE}-way softmax. Mini-batch SGD, batch {q2['batch_size']}, momentum "
            f"{num(q2['momentum'])}, Gaussian initialisation with std {num(q2['init_std'])}, learning rate "
            + per_network(q2["sizes"], results, "lr")
            + f" ({q2['schedule']} schedule), " + weight_decay(q2["sizes"], results)
            + "; early stopping on the validation cross-entropy with "
            f"patience {q2['patience']} (the weights of the best epoch are kept). Each network is trained with "
            f"{seeds} seeds ({', '.join(map(str, q2['seeds']))}); the table gives means over them. "
            + stopping(names, results, params)
        ),
        Table(table),
        src.figure(paths.Q2_SUMMARY_PLOTS / "validation_curves.png",
                   "Validation cross-entropy and accuracy per epoch of the "
                   f"{len(names)} networks, each its median seed (dots: the kept epoch)."),
    ]
    blocks += [src.figure(paths.Q2_TRAIN_PLOTS / name / "curve.png",
                          f"{label(results[name])}, seed {results[name]['median_seed']} (the median validation "
                          "cross-entropy): training and validation cross-entropy per epoch, the other seeds' "
                          "validation curves in grey.") for name in names]
    blocks += [
        Bullets((*comparison(table, seeds), beside_counts(table, counts))),
        Paragraph(
            "A larger embedding lets words that behave alike share finer distinctions, and a larger hidden layer "
            "can combine the three context words in more ways; the price is more parameters to fit from the same "
            "training trigrams."
        ),
    ]
    return blocks


def true_word_ranks(probs: pd.DataFrame) -> pd.DataFrame:
    """Per test trigram: context, true word, its rank among all words (1 = best), its probability."""
    own = probs[probs["word"] == probs["true_word"]]
    return own[["test_row", "context", "true_word", "rank", "probability"]].reset_index(drop=True)


def prediction(src: Sources, params: dict) -> list[Block]:
    """Q2 (b): top candidates for a few test trigrams, with computed remarks; the embedding extra."""
    pred = params["q2"]["predict"]
    top = src.csv(paths.Q2_PREDICT_RESULTS / "top.csv", ("word",), ("test_row", "probability"))
    truth = true_word_ranks(src.csv(paths.Q2_PREDICT_RESULTS / "probabilities.csv", ("context", "word", "true_word"),
                                    ("test_row", "rank", "probability")))
    lists = top.groupby("test_row", sort=True)["word"].apply(", ".join).rename("top candidates")
    shown = truth.join(lists, on="test_row").rename(columns={"rank": "true rank", "probability": "p(true)"})
    inside = int((truth["rank"] <= pred["top"]).sum())
    first = int((truth["rank"] == 1).sum())
    blocks: list[Block] = [
        Heading(3, f"Q2 (b) Predicting the 4th word of {len(truth)} test trigrams"),
        Paragraph(
            f"Network {pred['network']} (the seed with the median validation cross-entropy, "
            f"{src.json(paths.Q2_TRAIN_RESULTS / pred['network'] / paths.RESULT)['median_seed']}); {len(truth)} test "
            f"trigrams drawn with seed {pred['seed']}. For each, the "
            f"{pred['top']} most probable next words (of all {VOCAB_SIZE} probabilities, kept in "
            "`results/q2/predict/probabilities.csv`), most probable first, and the rank of the word the test set has."
        ),
        Table(shown),
        src.figure(paths.Q2_PREDICT_PLOTS / "top.png",
                   f"Top {pred['top']} candidates per trigram; the true word in orange."),
        Bullets((
            f"The true word is among the top {pred['top']} for {inside} of the {len(truth)} trigrams and ranked "
            f"first for {first}; its median rank is {num(float(truth['rank'].median()), 3)}.",
            f"The mean probability given to the true word is {num(float(truth['probability'].mean()), 3)}, "
            f"{float(truth['probability'].mean()) * VOCAB_SIZE:.0f} times the uniform 1/{VOCAB_SIZE}.",
            f"The top {pred['top']} candidates carry "
            f"{pct(float(top.groupby('test_row')['probability'].sum().mean()))} of the probability on average.",
        )),
        Paragraph(
            "A candidate is sensible when it would continue the three words grammatically and plausibly; the "
            "lists above can be read with that in mind, while the true word's rank measures how close the network "
            "comes to the test sentence itself. Seeing only three words, the network cannot know more than which "
            "continuations are common after them."
        ),
    ]
    return blocks + embeddings(src, params)


def embeddings(src: Sources, params: dict) -> list[Block]:
    """Beyond the assignment: nearest words in the embedding space, strongest pair computed."""
    near = src.csv(paths.Q2_EMBEDDINGS_RESULTS / "nearest_words.csv", ("word", "neighbour"), ("rank", "cosine"))
    closest = near.loc[near["cosine"].idxmax()]
    firsts = near[near["rank"] == 1]
    table = near.groupby("word", sort=False).apply(
        lambda g: ", ".join(f"{w} ({c:.2f})" for w, c in zip(g["neighbour"], g["cosine"], strict=True)),
        include_groups=False).rename("nearest words (cosine)").reset_index()
    return [
        Paragraph(f"Beyond the assignment: the learned embedding R of {params['q2']['embeddings']['network']}. "
                  "Nearest words by cosine similarity:"),
        Table(table),
        Paragraph(
            f"The closest pair is {closest['word']} – {closest['neighbour']} (cosine "
            f"{num(float(closest['cosine']), 2)}); the nearest neighbour's cosine averages "
            f"{num(float(firsts['cosine'].mean()), 2)} over the {len(firsts)} words. Words that can replace each "
            "other in a sentence end up close, because the network only ever sees which words precede which."
        ),
        src.figure(paths.Q2_EMBEDDINGS_PLOTS / "pca.png",
                   "The embedding vectors projected on their first two principal "
                   "components."),
    ]


def q2_section(src: Sources, params: dict) -> list[Block]:
    """Q2 (a)-(b) in order."""
    return [Heading(2, "Q2 — Predicting the next word of a trigram"), *training(src, params),
            *prediction(src, params)]
