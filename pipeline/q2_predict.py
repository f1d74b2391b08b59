"""Stage q2_predict (Q2 b): predict the 4th word of a few random test trigrams with a trained network.

Writes results/q2/predictions_probs.csv (the probability of every word of the vocabulary for each
picked trigram), results/q2/top10.csv and top10.md (the `top` most probable words, most probable first,
with the true 4th word's rank) and plots/q2/top10.png (one bar chart per trigram, true word marked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from models.language import top_k
from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.data import load_trigrams
from pipeline.errors import UserError, make_app, run
from pipeline.q2_network import artifact_path, load_network

app = make_app(__doc__)


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
    """One small table per trigram, with the true word's own rank and probability underneath."""
    lines = [f"# Q2 (b): top-{top['rank'].max()} next words for {top['test_row'].nunique()} test trigrams", ""]
    for i, (row, group) in enumerate(top.groupby("test_row", sort=True)):
        true_rank = int(np.sum(probs[i] > probs[i, d[i]])) + 1
        lines += [f"## test row {row}: \"{group['context'].iloc[0]} ___\" (true: **{group['true_word'].iloc[0]}**, "
                  f"rank {true_rank}, p = {probs[i, d[i]]:.4f})", "", "| rank | word | probability |", "|---|---|---|"]
        for rec in group.itertuples():
            word = f"**{rec.word}**" if rec.is_true else rec.word
            lines.append(f"| {rec.rank} | {word} | {rec.probability:.4f} |")
        lines.append("")
    return "\n".join(lines)


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
    atomic.save_figure(fig, path)


@app.command()
def main(
    data: Path = typer.Option(Path("data/raw/data2.h5"), help="params.yaml data.data2"),
    network: str = typer.Option("d32_p256", help="params.yaml q2.predict.network: a key of q2.sizes"),
    count: int = typer.Option(5, help="params.yaml q2.predict.count: test trigrams to show"),
    top: int = typer.Option(10, help="params.yaml q2.predict.top: candidates listed per trigram"),
    seed: int = typer.Option(0, help="params.yaml q2.predict.seed: which test trigrams"),
    artifacts: Path = typer.Option(Path("artifacts/q2"), help="folder of the trained <network>.npz"),
    results: Path = typer.Option(Path("results/q2")),
    figure: Path = typer.Option(Path("plots/q2/top10.png")),
) -> None:
    """Predict the 4th word of `count` random test trigrams; tabulate and plot the `top` candidates."""
    checks = ParamChecks()
    checks.name("q2.predict.network", network)
    checks.positive_int("q2.predict.count", count)
    checks.positive_int("q2.predict.top", top)
    checks.non_negative_int("q2.predict.seed", seed)
    checks.done()

    trigrams = load_trigrams(data)
    if count > len(trigrams.test_x):
        raise UserError(f"params.yaml q2.predict.count = {count}: the test set has only {len(trigrams.test_x)} rows")
    if top > len(trigrams.words):
        raise UserError(f"params.yaml q2.predict.top = {top}: the vocabulary has only {len(trigrams.words)} words")
    model, params = load_network(artifact_path(artifacts, network))
    rows = pick_trigrams(len(trigrams.test_x), count, seed)
    x, d = trigrams.test_x[rows], trigrams.test_d[rows]
    probs = model.predict(params, x).astype(np.float64)

    table = top_table(rows, x, d, probs, trigrams.words, top)
    atomic.write_csv(Path(results) / "predictions_probs.csv", probability_table(rows, x, d, probs, trigrams.words))
    atomic.write_csv(Path(results) / "top10.csv", table)
    atomic.write_text(Path(results) / "top10.md", top_markdown(table, probs, d))
    figures.use_agg()
    top_figure(table, figure)
    for row, group in table.groupby("test_row", sort=True):
        listed = ", ".join(f"{w} {p:.3f}" for w, p in zip(group["word"], group["probability"], strict=True))
        print(f"q2_predict row {row}: \"{group['context'].iloc[0]} ___\" true {group['true_word'].iloc[0]}: {listed}")


if __name__ == "__main__":
    run(app)
