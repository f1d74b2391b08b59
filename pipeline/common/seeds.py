"""A network trained once per seed (params.yaml `seeds`; run side by side by pipeline.common.parallel): the spread
of its scores over the seeds, its median seed and the seeds' output folders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def spread(values: Sequence[float]) -> dict[str, float]:
    """mean, std (sample standard deviation, ddof 1; 0 for a single value), min and max of `values`."""
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


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


def seed_folder(seed: int) -> str:
    """Name of a seed's sub-folder in a network's output folders: 'seed0', 'seed1', ..."""
    return f"seed{seed}"
