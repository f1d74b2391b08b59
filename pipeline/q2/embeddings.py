"""Stage q2_embeddings (beyond the assignment): what the learned word embeddings R (V, D) encode.

Nearest words of a few chosen words by cosine similarity of their embedding rows,

    cos(u, v) = R[u] . R[v] / (||R[u]|| ||R[v]||),

written to results/q2/embeddings/nearest_words.csv and .md, and a 2-D PCA map of all V embeddings (rows
centred, projected on the first two right singular vectors) with word labels, plots/q2/embeddings/pca.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.document import Heading, Table, to_markdown
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.staging import outputs
from pipeline.q2.data import load_trigrams
from pipeline.q2.network import load_network, median_network
from pipeline.q2.params import SCHEMA

PARAMS = ("data.data2", "q2.embeddings")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


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
    io.save_figure(fig, path)


@app.command(help=HELP)
def main() -> None:
    """Nearest words of the query words and a PCA map of every embedding."""
    p = load(SCHEMA, PARAMS)
    emb = p.q2.embeddings
    queries = [w.strip() for w in emb.words.split(",") if w.strip()]
    if not queries:
        raise UserError(f"params.yaml q2.embeddings.words = {emb.words!r}: no word given")
    vocab = load_trigrams(p.data.data2).words
    index = {w: i for i, w in enumerate(vocab)}
    unknown = [w for w in queries if w not in index]
    if unknown:
        raise UserError(f"params.yaml q2.embeddings.words = {emb.words!r}: not in the vocabulary: {', '.join(unknown)}")
    if emb.neighbours >= len(vocab):
        raise UserError(f"params.yaml q2.embeddings.neighbours = {emb.neighbours}: must be < {len(vocab)}")
    _, params = load_network(median_network(emb.network)[0])
    embeddings = params["R"].astype(np.float64)

    records, summary = [], []
    for word in queries:
        idx, sims = cosine_neighbours(embeddings, index[word], emb.neighbours)
        records += [{"word": word, "rank": r + 1, "neighbour": vocab[i], "cosine": s}
                    for r, (i, s) in enumerate(zip(idx, sims, strict=True))]
        listed = [f"{vocab[i]} ({s:.2f})" for i, s in zip(idx, sims, strict=True)]
        summary.append({"word": word, "nearest words (cosine)": ", ".join(listed)})
        print(f"q2_embeddings {word}: " + ", ".join(listed))
    out = paths.Q2_EMBEDDINGS_RESULTS
    title = f"Q2: nearest words in the embedding space of {emb.network} (cosine similarity)"
    coords, explained = pca_2d(embeddings)
    figures.use_agg()
    with outputs(out, paths.Q2_EMBEDDINGS_PLOTS):
        io.write_csv(out / "nearest_words.csv", pd.DataFrame.from_records(records))
        io.write_text(out / "nearest_words.md", to_markdown([Heading(1, title), Table(pd.DataFrame(summary))]))
        pca_figure(coords, explained, vocab, f"Q2: the {len(vocab)} learned word embeddings of {emb.network}, PCA",
                   paths.Q2_EMBEDDINGS_PLOTS / "pca.png")


if __name__ == "__main__":
    run(app)
