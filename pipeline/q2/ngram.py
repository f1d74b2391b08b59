"""The count baseline of Q2: an interpolated n-gram model of the 4th word given the three before it.

    P(w | a b c) = l4 P4(w | a b c) + l3 P3(w | b c) + l2 P2(w | c) + l1 P1(w) + l0 / V

P_k are relative frequencies in the training 4-grams (an unseen context gives P_k = 0 there), and the weights
l0..l4 (summing to 1) are fitted on the validation set by EM, which maximises the validation likelihood:
l_k <- mean over validation rows of l_k P_k(d) / P(d). The test set is scored once, with those weights.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

ORDERS = (3, 2, 1, 0)  # context words of P4, P3, P2, P1 (the last k words of the trigram)
EM_ITERATIONS = 100
CHUNK = 4096  # rows whose (rows, V) distributions are formed at once


class CountModel:
    """Relative frequencies of the 4th word given the last k context words, k = 3, 2, 1, 0 (V words)."""

    def __init__(self, x: np.ndarray, d: np.ndarray, vocab: int) -> None:
        self.vocab = vocab
        self.tables = []  # per order: (context codes sorted, (contexts, V) CSR of relative frequencies)
        for k in ORDERS:
            codes = self._codes(x, k)
            contexts, index = np.unique(codes, return_inverse=True)
            counts = sparse.csr_matrix((np.ones(len(d)), (index, d)), shape=(len(contexts), vocab))
            totals = np.asarray(counts.sum(axis=1)).ravel()
            self.tables.append((contexts, sparse.diags(1 / totals) @ counts))

    def _codes(self, x: np.ndarray, k: int) -> np.ndarray:
        """One integer per row for its last k context words (0 for k = 0)."""
        code = np.zeros(len(x), dtype=np.int64)
        for column in range(3 - k, 3):
            code = code * self.vocab + x[:, column]
        return code

    def orders(self, x: np.ndarray) -> np.ndarray:
        """(len(ORDERS) + 1, N, V) distributions P4, P3, P2, P1 and the uniform 1/V for the rows x (N, 3)."""
        out = np.zeros((len(ORDERS) + 1, len(x), self.vocab))
        for i, (k, (contexts, table)) in enumerate(zip(ORDERS, self.tables, strict=True)):
            codes = self._codes(x, k)
            at = np.searchsorted(contexts, codes).clip(max=len(contexts) - 1)
            seen = contexts[at] == codes
            out[i, seen] = table[at[seen]].toarray()
        out[-1] = 1.0 / self.vocab
        return out


def fit_weights(model: CountModel, x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Interpolation weights (len(ORDERS) + 1,) maximising the likelihood of (x, d) by EM."""
    true = np.concatenate([model.orders(x[s : s + CHUNK])[:, np.arange(len(d[s : s + CHUNK])), d[s : s + CHUNK]]
                           for s in range(0, len(x), CHUNK)], axis=1)  # (orders, N): P_k of the true word
    weights = np.full(len(true), 1.0 / len(true))
    for _ in range(EM_ITERATIONS):
        share = weights[:, None] * true
        weights = (share / share.sum(axis=0)).mean(axis=1)
    return weights


def score(model: CountModel, weights: np.ndarray, x: np.ndarray, d: np.ndarray) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy of the interpolated model on (x, d)."""
    log_p, correct = 0.0, 0
    for s in range(0, len(x), CHUNK):
        probs = np.tensordot(weights, model.orders(x[s : s + CHUNK]), axes=1)  # (rows, V)
        rows = np.arange(len(probs))
        log_p += float(np.log(probs[rows, d[s : s + CHUNK]]).sum())
        correct += int((probs.argmax(axis=1) == d[s : s + CHUNK]).sum())
    return {"cross_entropy": -log_p / len(x), "accuracy": correct / len(x)}
