"""data3.h5: trX (N, T, 3), trY, tstX, tstY with one-hot or integer labels of six activities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pipeline.common.errors import UserError
from pipeline.common.h5 import numeric, open_file, read_key, shape_error

ACTIVITIES = ("downstairs", "jogging", "sitting", "standing", "upstairs", "walking")


@dataclass(frozen=True)
class Activities:
    """data3: x_* float arrays (N, T, 3); y_* integer labels 0..5 (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...] = ACTIVITIES


def _labels(h5: h5py.File, key: str, n_rows: int) -> np.ndarray:
    """One-hot (N, 6) or integer 1..6 labels (N,) -> int64 0..5."""
    y = numeric(h5, key, read_key(h5, key))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 2:
        if y.shape != (n_rows, len(ACTIVITIES)):
            raise shape_error(h5, key, y, f"({n_rows}, {len(ACTIVITIES)}) one-hot or ({n_rows},) integers")
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise UserError(f"{h5.filename}: key '{key}' is not one-hot (each row needs a single 1, rest 0)")
        return np.argmax(y, axis=1).astype(np.int64)
    if y.shape != (n_rows,):
        raise shape_error(h5, key, y, f"({n_rows}, {len(ACTIVITIES)}) one-hot or ({n_rows},) integers")
    if not np.array_equal(y, np.round(y)) or y.min() < 1 or y.max() > len(ACTIVITIES):
        raise UserError(f"{h5.filename}: key '{key}' has labels outside 1..{len(ACTIVITIES)}")
    return y.astype(np.int64) - 1


def _sequences(h5: h5py.File, key: str) -> np.ndarray:
    x = numeric(h5, key, read_key(h5, key))
    if x.ndim != 3 or x.shape[2] != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise shape_error(h5, key, x, "(N, T, 3)")
    return np.ascontiguousarray(x, dtype=np.float64)


def load_windows(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One part of a data3-layout file, x (N, T, 3) and labels 0..5 (N,): split "train" (trX, trY) or "test"
    (tstX, tstY); the other part need not be in the file."""
    x_key, y_key = {"train": ("trX", "trY"), "test": ("tstX", "tstY")}[split]
    with open_file(path) as h5:
        x = _sequences(h5, x_key)
        return x, _labels(h5, y_key, len(x))


def load_activities(path: str | Path) -> Activities:
    """data3: trX (N, 150, 3), trY, tstX, tstY with one-hot or integer labels."""
    with open_file(path) as h5:
        train_x = _sequences(h5, "trX")
        test_x = _sequences(h5, "tstX")
        if train_x.shape[1:] != test_x.shape[1:]:
            raise UserError(f"{h5.filename}: 'trX' steps {train_x.shape[1:]} differ from 'tstX' {test_x.shape[1:]}")
        train_y = _labels(h5, "trY", len(train_x))
        test_y = _labels(h5, "tstY", len(test_x))
    return Activities(train_x, train_y, test_x, test_y)
