"""Stage q2_predict (Q2 b): predict the 4th word of a few random test trigrams with a trained network.

Writes into results/q2/predict/ probabilities.csv (the probability of every word of the vocabulary for each
picked trigram), top.csv and top.md (the `top` most probable words, most probable first, with the true 4th
word's rank), and plots/q2/predict/top.png (one bar chart per trigram, true word marked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.language import top_k
from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Heading, Table, to_markdown
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.staging import outputs
from pipeline.q2.data import load_trigrams
from pipeline.q2.network import load_network, median_network
from pipeline.q2.params import SCHEMA

PARAMS = ("data.data2", "q2.predict")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def pick_trigrams(n_test: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct test-row indices drawn with `seed`, sorted."""
    return np.sort(np.random.default_rng(seed).choice(n_test, size=count, replace=False))


def probability_table(rows: np.ndarray, x: np.ndarray, d: np.ndarray, probs: np.ndarray,
                      words: tuple[str, ...]) -> pd.DataFrame:
    """Long table: one row per (picked trigram, vocabulary word) with its probability and rank (1 = best)."""
    ranks = np.argsort(np.argsort(-probs, axis=1, kind="stable"), axis=1, kind="stable") + 1
    frames = []
    for i, row in enumerate(rows):
        frames.append(pd.DataFrame({
            "test_row": row, "context": " ".join(words[w] for w in x[i]), "true_word": words[d[i]],
            "word_index": np.arange(len(words)), "word": words, "probability": probs[i], "rank": ranks[i],
        }))
    return pd.concat(frames, ignore_index=True)


def top_table(rows: np.ndarray, x: np.ndarray, d: np.ndarray, probs: np.ndarray, words: tuple[str, ...],
              k: int) -> pd.DataFrame:
    """The k most probable 4th words per trigram, rank 1 first; `is_true` marks the test set's word."""
    idx, val = top_k(probs, k)
    records = [
        {"test_row": row, "context": " ".join(words[w] for w in x[i]), "true_word": words[d[i]], "rank": r + 1,
         "word": words[idx[i, r]], "probability": val[i, r], "is_true": bool(idx[i, r] == d[i])}
        for i, row in enumerate(rows) for r in range(k)
    ]
    return pd.DataFrame.from_records(records)


def top_markdown(top: pd.DataFrame, probs: np.ndarray, d: np.ndarray) -> str:
    """One small table per trigram (true word in bold), with the true word's own rank and probability above it."""
    blocks = [Heading(1, f"Q2 (b): top-{top['rank'].max()} next words for {top['test_row'].nunique()} test trigrams")]
    for i, (row, group) in enumerate(top.groupby("test_row", sort=True)):
        true_rank = int(np.sum(probs[i] > probs[i, d[i]])) + 1
        blocks.append(Heading(2, f"test row {row}: \"{group['context'].iloc[0]} ___\" (true: "
                                 f"**{group['true_word'].iloc[0]}**, rank {true_rank}, p = {probs[i, d[i]]:.4f})"))
        words = [f"**{w}**" if t else w for w, t in zip(group["word"], group["is_true"], strict=True)]
        blocks.append(Table(pd.DataFrame({"rank": group["rank"], "word": words, "probability": group["probability"]}),
                            float_format="{:.4f}"))
    return to_markdown(blocks)


def top_figure(top: pd.DataFrame, path: Path) -> None:
    """One horizontal bar chart per trigram; the true 4th word's bar in orange when it is in the list."""
    import matplotlib.pyplot as plt

    groups = list(top.groupby("test_row", sort=True))
    fig, axes = plt.subplots(1, len(groups), figsize=(3.4 * len(groups), 3.8), squeeze=False)
    for ax, (_, group) in zip(axes[0], groups, strict=True):
        colours = ["tab:orange" if t else "tab:blue" for t in group["is_true"]]
        ax.barh(np.arange(len(group)), group["probability"], color=colours)
        ax.set_yticks(np.arange(len(group)), group["word"])
        ax.invert_yaxis()
        ax.set_xlabel("probability")
        found = " (in list, orange)" if group["is_true"].any() else " (not in list)"
        ax.set_title(f"\"{group['context'].iloc[0]} ___\"\ntrue: {group['true_word'].iloc[0]}{found}", fontsize=9)
    fig.tight_layout()
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Predict the 4th word of `count` random test trigrams; tabulate and plot the `top` candidates."""
    p = load(SCHEMA, PARAMS)
    pred = p.q2.predict
    trigrams = load_trigrams(p.data.data2)
    if pred.count > len(trigrams.test_x):
        raise UserError(f"params.yaml q2.predict.count = {pred.count}: the test set has only "
                        f"{len(trigrams.test_x)} rows")
    if pred.top > len(trigrams.words):
        raise UserError(f"params.yaml q2.predict.top = {pred.top}: the vocabulary has only "
                        f"{len(trigrams.words)} words")
    model, params = load_network(median_network(pred.network)[0])
    rows = pick_trigrams(len(trigrams.test_x), pred.count, pred.seed)
    x, d = trigrams.test_x[rows], trigrams.test_d[rows]
    probs = model.predict(params, x).astype(np.float64)

    table = top_table(rows, x, d, probs, trigrams.words, pred.top)
    out = paths.Q2_PREDICT_RESULTS
    figures.use_agg()
    with outputs(out, paths.Q2_PREDICT_PLOTS):
        io.write_csv(out / "probabilities.csv", probability_table(rows, x, d, probs, trigrams.words))
        io.write_csv(out / "top.csv", table)
        io.write_text(out / "top.md", top_markdown(table, probs, d))
        top_figure(table, paths.Q2_PREDICT_PLOTS / "top.png")
    for row, group in table.groupby("test_row", sort=True):
        listed = ", ".join(f"{w} {p:.3f}" for w, p in zip(group["word"], group["probability"], strict=True))
        print(f"q2_predict row {row}: \"{group['context'].iloc[0]} ___\" true {group['true_word'].iloc[0]}: {listed}")


if __name__ == "__main__":
    run(app)
