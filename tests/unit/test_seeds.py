"""pipeline.common.seeds: the spread of a network's scores over its seeds, its median seed and seed folders."""

from __future__ import annotations

import math

import pytest

from pipeline.common import seeds


def test_spread_by_hand():
    assert seeds.spread([1.0, 2.0, 3.0, 4.0]) == {"mean": 2.5, "std": pytest.approx(math.sqrt(5 / 3)),
                                                  "min": 1.0, "max": 4.0}  # sample std: ((2.25 + .25) * 2 / 3)
    assert seeds.spread([0.9, 0.8]) == {"mean": pytest.approx(0.85), "std": pytest.approx(0.1 / math.sqrt(2)),
                                        "min": 0.8, "max": 0.9}
    assert seeds.spread([0.7]) == {"mean": 0.7, "std": 0.0, "min": 0.7, "max": 0.7}  # one seed: no spread


def test_median_seed_by_hand():
    assert seeds.median_seed([0, 1, 2], [0.3, 0.1, 0.2]) == 2  # scores in order: seed 1, 2, 0
    assert seeds.median_seed([5, 7, 9, 11], [4.0, 1.0, 3.0, 2.0]) == 11  # even count: the lower middle (7, 11 | 9, 5)
    assert seeds.median_seed([3, 4], [0.5, 0.5]) == 3  # a tie: the earlier seed
    assert seeds.median_seed([0, 1, 2], [1.0, 1.0, 1.0]) == 1
    assert seeds.median_seed([8], [0.2]) == 8


def test_seed_folder():
    assert seeds.seed_folder(0) == "seed0" and seeds.seed_folder(12) == "seed12"


def test_over_seeds_gives_the_spreads_the_median_and_the_cut_rows():
    rows = [{"seed": s, "score": v, "other": 1.0, "best_epoch": s + 1, "stopped_epoch": s + 2, "extra": "x"}
            for s, v in ((3, 0.5), (7, 0.1), (9, 0.3))]
    out = seeds.over_seeds(rows, ("score",), "score")
    assert out["seeds"] == [3, 7, 9] and out["median_seed"] == 9
    assert out["score"] == seeds.spread([0.5, 0.1, 0.3])
    assert out["per_seed"] == [{"seed": s, "score": v, "best_epoch": s + 1, "stopped_epoch": s + 2}
                               for s, v in ((3, 0.5), (7, 0.1), (9, 0.3))]
