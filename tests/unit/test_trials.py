"""pipeline.q3.trials and the trial split: fragments found by shared samples, trials by gravity direction."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.q3.evaluation import stratified_split, trial_split
from pipeline.q3.trials import RUN, fragments, gravity, overlapping, trials, unit_counts


def _cut(signal: np.ndarray, width: int = 10, stride: int = 5) -> list[np.ndarray]:
    """Windows of `width` with `stride` (< width: neighbours share samples) from one signal (T, 3)."""
    return [signal[s : s + width] for s in range(0, len(signal) - width + 1, stride)]


def _trial(rng, direction, length: int = 40) -> np.ndarray:
    """(length, 3) a signal around a fixed gravity direction (the phone's orientation during one trial)."""
    return 9.8 * np.asarray(direction, dtype=float) + rng.normal(scale=0.5, size=(length, 3))


def test_windows_cut_from_one_fragment_are_found_and_split_together():
    rng = np.random.default_rng(0)
    windows, labels = [], []
    for rec in range(12):
        cut = _cut(rng.normal(size=(40, 3)))
        windows += cut
        labels += [rec % 3] * len(cut)
    x, y = np.stack(windows), np.array(labels)
    groups = fragments(x)
    assert groups.max() + 1 == 12 and all(len(set(groups[i * 7 : i * 7 + 7])) == 1 for i in range(12))
    train, val = trial_split(y, groups, 0.25, np.random.default_rng(0))
    assert set(groups[train]).isdisjoint(groups[val]) and overlapping(x, val, train) == 0
    assert sorted(set(y[val])) == [0, 1, 2]  # every class is validated
    naive_train, naive_val = stratified_split(y, 0.25, np.random.default_rng(0))
    assert overlapping(x, naive_val, naive_train) > 0  # what the split by window gets wrong


def test_without_shared_samples_or_close_directions_the_split_is_the_stratified_one():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 10, 3)), np.repeat(np.arange(3), 10)
    groups = trials(x, y, fragments(x), 0.0)
    assert len(set(groups)) == 30 and RUN <= 10
    split = trial_split(y, groups, 0.2, np.random.default_rng(5))
    naive = stratified_split(y, 0.2, np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(split, naive, strict=True))


def test_fragments_of_one_class_with_close_gravity_are_one_trial_and_other_classes_are_not():
    rng = np.random.default_rng(2)
    up, tilted = np.array([0.0, 0.0, 1.0]), np.array([0.0, np.sin(np.radians(30)), np.cos(np.radians(30))])
    # two fragments of one trial (a gap between them: no shared samples), one other trial, and a class-1 fragment
    # held like the first trial
    parts = [(_trial(rng, up), 0), (_trial(rng, up), 0), (_trial(rng, tilted), 0), (_trial(rng, up), 1)]
    windows, labels, source = [], [], []
    for k, (signal, label) in enumerate(parts):
        cut = _cut(signal)
        windows += cut
        labels += [label] * len(cut)
        source += [k] * len(cut)
    x, y, source = np.stack(windows), np.array(labels), np.array(source)
    assert len(set(fragments(x))) == 4
    unit = trials(x, y, fragments(x), 3.0)
    first, second, other, class_1 = (set(unit[source == k]) for k in range(4))
    assert first == second and len(first) == 1  # linked by direction
    assert other.isdisjoint(first) and class_1.isdisjoint(first)  # 30 degrees away; another class
    assert len(set(trials(x, y, fragments(x), 0.0))) == 4  # 0 degrees links nothing beyond shared samples
    np.testing.assert_allclose(np.linalg.norm(gravity(x), axis=1), 1.0)


def test_a_long_trial_is_not_drawn_into_validation_and_every_class_keeps_a_trial():
    y = np.zeros(100, dtype=np.int64)
    groups = np.concatenate([np.zeros(80, dtype=np.int64), np.repeat(np.arange(1, 11), 2)])  # one of 80, ten of 2
    for seed in range(20):
        train, val = trial_split(y, groups, 0.1, np.random.default_rng(seed))
        assert 10 <= len(val) <= 20 and 0 not in set(groups[val])  # the trial of 80 would be 8 times the share
        assert set(groups[train]).isdisjoint(groups[val])
    # two trials only, both over twice the share: the smaller goes, the other stays for training
    train, val = trial_split(np.zeros(10, dtype=np.int64), np.repeat([0, 1], [6, 4]), 0.1, np.random.default_rng(0))
    assert list(val) == [6, 7, 8, 9] and list(train) == list(range(6))


def test_unit_counts():
    counts = unit_counts(np.array([5, 5, 5, 2, 9, 9]))
    assert counts == {"units": 3, "single_window_units": 1, "windows_per_unit_median": 2.0,
                      "windows_per_unit_max": 3}
    assert unit_counts(np.arange(4))["single_window_units"] == pytest.approx(4)
