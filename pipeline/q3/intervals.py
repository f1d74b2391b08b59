"""Intervals for Q3 test accuracies that respect how the numbers were made: windows cut from trials, few seeds.

Test-set uncertainty: the test windows are not independent draws. Windows cut from one trial are near copies
(pipeline.q3.trials finds the trials in the test file as in the training file), so the bootstrap resamples whole
trials: each draw takes as many trials as the file has, with replacement, and scores every seed's predictions on the
windows of the drawn trials. An entry's interval is the 2.5 and 97.5 percentiles of its mean accuracy over those
draws. It describes the people of the test file, not new people: their trials are resampled, the people are not.

Comparing two entries (or an entry and the baseline): d = mean_a - mean_b of the mean test accuracies over seeds. Its
variance adds the seed-to-seed variance of each mean (std^2 / k) and the test set's, from the paired bootstrap (the
same draws for both, so what the two get right together cancels). With 3 seeds the seed part is known only roughly:
the half-width is a t quantile times the standard error, with the Welch-Satterthwaite degrees of freedom (the
bootstrap part counted as known). A difference inside the half-width (p >= 0.05) is a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.common.seeds import LEVEL, mean_difference_test

DRAWS = 2000  # bootstrap draws
SEED = 443  # the draws' generator: fixed, so the intervals are reproducible


@dataclass(frozen=True)
class Predictions:
    """Which test windows each seed's model got right, correct (S, N) bool, and the windows' trials and fragments
    (N,) each."""

    correct: np.ndarray
    trial: np.ndarray
    fragment: np.ndarray

    @classmethod
    def from_frames(cls, frames: list[pd.DataFrame]) -> Predictions:
        """One test_predictions.csv per seed (pipeline.q3.evaluation.PREDICTION_COLUMNS; the same windows in each)."""
        correct = np.stack([(f["true"] == f["predicted"]).to_numpy() for f in frames])
        return cls(correct, frames[0]["trial"].to_numpy(), frames[0]["fragment"].to_numpy())

    def accuracies(self) -> np.ndarray:
        """(S,) each seed's test accuracy."""
        return self.correct.mean(axis=1)


def draw_weights(unit: np.ndarray, draws: int = DRAWS, seed: int = SEED) -> np.ndarray:
    """(draws, N): how often each window's unit (trial or fragment) was drawn, per bootstrap draw over the R units."""
    groups = np.unique(unit, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1
    counts = np.random.default_rng(seed).multinomial(n_groups, np.full(n_groups, 1 / n_groups), size=draws)
    return counts[:, groups]


def bootstrap_means(p: Predictions, weights: np.ndarray) -> np.ndarray:
    """(draws,) the mean over seeds of the test accuracy on each draw's windows (weights (draws, N))."""
    per_seed = (weights @ p.correct.T.astype(float)) / weights.sum(axis=1, keepdims=True)
    return per_seed.mean(axis=1)


def interval(p: Predictions, weights: np.ndarray) -> tuple[float, float]:
    """The 95 % bootstrap interval (low, high) of the mean test accuracy over the seeds."""
    low, high = np.percentile(bootstrap_means(p, weights), [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(low), float(high)


def difference(a: Predictions, b: Predictions, weights: np.ndarray) -> dict[str, float]:
    """mean_a - mean_b of two entries' mean test accuracies, its 95 % half-width, degrees of freedom, two-sided p-value
    (unadjusted: compare.py adjusts it over the family): pipeline.common.seeds.mean_difference_test with the paired
    bootstrap's variance of the difference as the test set's part."""
    test_variance = float(np.var(bootstrap_means(a, weights) - bootstrap_means(b, weights), ddof=1))
    acc_a, acc_b = a.accuracies(), b.accuracies()
    spreads = [(float(acc.std(ddof=1)) if len(acc) > 1 else 0.0, len(acc)) for acc in (acc_a, acc_b)]
    return mean_difference_test(float(acc_a.mean() - acc_b.mean()), spreads, test_variance)
