"""A network trained once per seed (params.yaml `seeds`; run side by side by pipeline.common.parallel): the spread
of its scores over the seeds, its median seed and the seeds' output folders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95  # of every interval and test over seeds


def spread(values: Sequence[float]) -> dict[str, float]:
    """mean, std (sample standard deviation, ddof 1; 0 for a single value), min and max of `values`."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def mean_difference_test(diff: float, spreads: Sequence[tuple[float, int]], known_variance: float = 0.0
                         ) -> dict[str, float]:
    """A difference of two means over seeds, tested as suits a few seeds. `spreads`: each mean's (std, k) over its k
    seeds. The standard error adds each mean's seed variance (std^2 / k) and a `known_variance` (e.g. the test set's);
    the t quantile takes the Welch-Satterthwaite degrees of freedom (the known part counted as exact). Returns
    difference, half_width (95 %), dof and p_value (two-sided)."""
    parts = [(std * std / k, k - 1) for std, k in spreads if k > 1]
    variance = known_variance + sum(var for var, _ in parts)
    denominator = sum(var * var / dof for var, dof in parts)
    dof = variance * variance / denominator if denominator > 0 else np.inf
    se = float(np.sqrt(variance))
    p_value = float(2 * stats.t.sf(abs(diff) / se, dof)) if se > 0 else float(diff == 0)
    return {"difference": float(diff), "half_width": float(stats.t.ppf(0.5 + LEVEL / 2, dof) * se),
            "dof": float(dof), "p_value": p_value}


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (in the given order) of one family of m tests: sorted by p, the i-th smallest
    (from 0) becomes max over j <= i of (m - j) p_j, capped at 1. Rejecting where the adjusted p < alpha keeps the
    chance of any false rejection in the family below alpha."""
    order = np.argsort(p_values, kind="stable")
    adjusted, running = np.empty(len(order)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted.tolist()


def median_seed(seeds: Sequence[int], scores: Sequence[float]) -> int:
    """The seed whose score is the median (the lower middle one for an even count; ties to the earlier seed)."""
    order = sorted(range(len(seeds)), key=lambda i: (scores[i], i))
    return seeds[order[(len(seeds) - 1) // 2]]


def over_seeds(rows: list[dict], keys: Sequence[str], median_by: str) -> dict:
    """What a network's result.json says of its seeds, from one summary row per seed (each with "seed", `keys`,
    "best_epoch", "stopped_epoch"): the seeds, the median seed by `median_by`, the spread of each key and the
    per-seed rows cut to those columns."""
    seeds = [row["seed"] for row in rows]
    return {"seeds": seeds, "median_seed": median_seed(seeds, [row[median_by] for row in rows]),
            **{key: spread([row[key] for row in rows]) for key in keys},
            "per_seed": [{key: row[key] for key in ("seed", *keys, "best_epoch", "stopped_epoch")} for row in rows]}


def summary_numbers(keys: Sequence[str]) -> tuple[str, ...]:
    """The dotted paths of every number an `over_seeds` summary of `keys` holds, for pipeline.common.readers.read_json:
    a reader checks all of them before it uses any."""
    return ("seeds", "median_seed", *(f"per_seed.{key}" for key in ("seed", *keys, "best_epoch", "stopped_epoch")),
            *(f"{key}.{stat}" for key in keys for stat in ("mean", "std", "min", "max")))


def seed_folder(seed: int) -> str:
    """Name of a seed's sub-folder in a network's output folders: 'seed0', 'seed1', ..."""
    return f"seed{seed}"


def stack_seeds(curves: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Per-seed curves {seed: frame with an "epoch" column} as one long table (paths.CURVES): a "seed" column after
    "epoch", one row per epoch of every seed, the seeds in the given order."""
    frames = [curve.assign(seed=seed) for seed, curve in curves.items()]
    stacked = pd.concat(frames, ignore_index=True)
    columns = list(stacked.columns)
    columns.remove("seed")
    columns.insert(columns.index("epoch") + 1, "seed")
    return stacked[columns]


def one_seed(curves: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The rows of one seed of a long table (`stack_seeds`), in epoch order."""
    return curves[curves["seed"] == seed].sort_values("epoch").reset_index(drop=True)
