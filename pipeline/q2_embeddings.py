"""Stage q2_embeddings (beyond the assignment): what the learned word embeddings R (V, D) encode.

Nearest words of a few chosen words by cosine similarity of their embedding rows,

    cos(u, v) = R[u] . R[v] / (||R[u]|| ||R[v]||),

written to results/q2/nearest_words.csv and .md, and a 2-D PCA map of all V embeddings (rows centred,
projected on the first two right singular vectors) with word labels, plots/q2/embeddings_pca.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.data import load_trigrams
from pipeline.errors import UserError, make_app, run
from pipeline.q2_network import artifact_path, load_network

app = make_app(__doc__)


def cosine_neighbours(embeddings: np.ndarray, query: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` rows most similar to row `query` by cosine similarity (itself excluded), best first.

    Parameters
    ----------
    embeddings : (V, D); a zero row has similarity 0 with everything.
    Returns indices (count,) and similarities (count,).
    """
    norms = np.linalg.norm(embeddings, axis=1)
    unit = np.divide(embeddings, norms[:, None], out=np.zeros_like(embeddings), where=norms[:, None] > 0)
    sims = unit @ unit[query]
    sims[query] = -np.inf
    order = np.argsort(-sims, kind="stable")[:count]
    return order, sims[order]


def pca_2d(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (V, 2) on the first two principal axes and the fraction of variance each explains."""
    centred = embeddings - embeddings.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, (s[:2] ** 2) / np.sum(s**2)


def pca_figure(coords: np.ndarray, explained: np.ndarray, words: tuple[str, ...], title: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 11))
    ax.scatter(coords[:, 0], coords[:, 1], s=6, color="tab:blue", alpha=0.5)
    for (cx, cy), word in zip(coords, words, strict=True):
        ax.annotate(word, (cx, cy), fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f} % of variance)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    atomic.save_figure(fig, path)


@app.command()
def main(
    data: Path = typer.Option(Path("data/raw/data2.h5"), help="params.yaml data.data2 (for the word list)"),
    network: str = typer.Option("d32_p256", help="params.yaml q2.embeddings.network: a key of q2.sizes"),
    words: str = typer.Option("money,city,said,two,he,university",
                              help="params.yaml q2.embeddings.words: comma-separated query words"),
    neighbours: int = typer.Option(8, help="params.yaml q2.embeddings.neighbours: nearest words listed"),
    artifacts: Path = typer.Option(Path("artifacts/q2"), help="folder of the trained <network>.npz"),
    results: Path = typer.Option(Path("results/q2")),
    figure: Path = typer.Option(Path("plots/q2/embeddings_pca.png")),
) -> None:
    """Nearest words of the query words and a PCA map of every embedding."""
    queries = [w.strip() for w in words.split(",") if w.strip()]
    checks = ParamChecks()
    checks.name("q2.embeddings.network", network)
    if not queries:
        checks.fail("q2.embeddings.words", words, "no word given")
    checks.positive_int("q2.embeddings.neighbours", neighbours)
    checks.done()
    vocab = load_trigrams(data).words
    index = {w: i for i, w in enumerate(vocab)}
    unknown = [w for w in queries if w not in index]
    if unknown:
        raise UserError(f"params.yaml q2.embeddings.words = {words!r}: not in the vocabulary: {', '.join(unknown)}")
    if neighbours >= len(vocab):
        raise UserError(f"params.yaml q2.embeddings.neighbours = {neighbours}: must be < {len(vocab)}")
    _, params = load_network(artifact_path(artifacts, network))
    embeddings = params["R"].astype(np.float64)

    records, lines = [], [f"# Q2: nearest words in the embedding space of {network} (cosine similarity)", "",
                          "| word | nearest words (cosine) |", "|---|---|"]
    for word in queries:
        idx, sims = cosine_neighbours(embeddings, index[word], neighbours)
        records += [{"word": word, "rank": r + 1, "neighbour": vocab[i], "cosine": s}
                    for r, (i, s) in enumerate(zip(idx, sims, strict=True))]
        lines.append(f"| {word} | " + ", ".join(f"{vocab[i]} ({s:.2f})" for i, s in zip(idx, sims, strict=True)) + " |")
        print(f"q2_embeddings {word}: " + ", ".join(f"{vocab[i]} {s:.2f}" for i, s in zip(idx, sims, strict=True)))
    atomic.write_csv(Path(results) / "nearest_words.csv", pd.DataFrame.from_records(records))
    atomic.write_text(Path(results) / "nearest_words.md", "\n".join(lines) + "\n")
    coords, explained = pca_2d(embeddings)
    figures.use_agg()
    pca_figure(coords, explained, vocab, f"Q2: the {len(vocab)} learned word embeddings of {network}, PCA", figure)


if __name__ == "__main__":
    run(app)
