"""Loaders for data1.h5, data2.h5 and data3.h5 that validate what they read.

Every expected problem (missing or unreadable file, missing key, wrong shape, NaN/inf, index or label
out of range) raises UserError with one line naming the file, the key and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pipeline.errors import UserError

ACTIVITIES = ("downstairs", "jogging", "sitting", "standing", "upstairs", "walking")
VOCAB_SIZE = 250


@dataclass(frozen=True)
class Trigrams:
    """data2: 0-based word indices. x_* have shape (N, 3), d_* shape (N,); words has 250 strings."""

    train_x: np.ndarray
    train_d: np.ndarray
    val_x: np.ndarray
    val_d: np.ndarray
    test_x: np.ndarray
    test_d: np.ndarray
    words: tuple[str, ...]


@dataclass(frozen=True)
class Activities:
    """data3: x_* float arrays (N, T, 3); y_* integer labels 0..5 (N,)."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...] = ACTIVITIES


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise UserError(f"{path}: not a readable HDF5 file ({err.__class__.__name__}: {err})") from None


def _read(h5: h5py.File, key: str) -> np.ndarray:
    """The whole dataset `key`; a damaged file (h5py raises OSError, RuntimeError or KeyError) is a UserError."""
    try:
        if key not in h5:
            present = ", ".join(sorted(h5.keys())) or "none"
            raise UserError(f"{h5.filename}: key '{key}' missing (keys present: {present})")
        return h5[key][()]
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
        raise UserError(f"{h5.filename}: key '{key}' cannot be read, the file may be damaged ({err})") from None


def _numeric(h5: h5py.File, key: str, array: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating) or array.dtype == bool):
        raise UserError(f"{h5.filename}: key '{key}' has dtype {array.dtype}, expected numbers")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise UserError(f"{h5.filename}: key '{key}' contains {bad} NaN or inf values")
    return array


def _shape_error(h5: h5py.File, key: str, array: np.ndarray, expected: str) -> UserError:
    return UserError(f"{h5.filename}: key '{key}' has shape {array.shape}, expected {expected}")


def load_patches(path: str | Path) -> np.ndarray:
    """data1 'data': RGB patches as float64 (N, 3, 16, 16), channels first.

    Accepts square patches channels-first (N, 3, S, S) or channels-last (N, S, S, 3), any float or integer dtype
    (uint8 images are used as they are: the preprocessing does not depend on scale).
    """
    with _open(path) as h5:
        data = _numeric(h5, "data", _read(h5, "data"))
        if data.ndim == 4 and data.shape[1] == 3:
            rgb = data
        elif data.ndim == 4 and data.shape[3] == 3:
            rgb = np.moveaxis(data, 3, 1)
        else:
            raise _shape_error(h5, "data", data, "(N, 3, S, S) or (N, S, S, 3)")
        if rgb.shape[0] == 0 or rgb.shape[2] != rgb.shape[3]:
            raise _shape_error(h5, "data", data, "at least one square patch, (N, 3, S, S) or (N, S, S, 3)")
    return np.ascontiguousarray(rgb, dtype=np.float64)


def _indices(h5: h5py.File, key: str, ndim: int) -> np.ndarray:
    """1-based word indices -> 0-based int64; (3, N) MATLAB-style layouts are transposed."""
    array = _numeric(h5, key, _read(h5, key))
    if ndim == 2 and array.ndim == 2 and array.shape[0] == 3 and array.shape[1] != 3:
        array = array.T
    if ndim == 1 and array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    expected = "(N, 3)" if ndim == 2 else "(N,)"
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 3) or array.shape[0] == 0:
        raise _shape_error(h5, key, array, expected)
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise UserError(f"{h5.filename}: key '{key}' holds non-integer word indices")
    lo, hi = array.min(), array.max()
    if lo < 1 or hi > VOCAB_SIZE:
        raise UserError(
            f"{h5.filename}: key '{key}' has word indices from {lo:g} to {hi:g}, expected 1..{VOCAB_SIZE}"
        )
    return array.astype(np.int64) - 1


def load_trigrams(path: str | Path) -> Trigrams:
    """data2: trainx/traind, valx/vald, testx/testd (1-based indices) and 250 words (bytes or str)."""
    with _open(path) as h5:
        parts = {}
        for split in ("train", "val", "test"):
            x = _indices(h5, f"{split}x", 2)
            d = _indices(h5, f"{split}d", 1)
            if len(x) != len(d):
                raise UserError(f"{h5.filename}: '{split}x' has {len(x)} rows but '{split}d' has {len(d)}")
            parts[f"{split}_x"], parts[f"{split}_d"] = x, d
        raw_words = np.asarray(_read(h5, "words")).reshape(-1)
        if raw_words.shape != (VOCAB_SIZE,):
            raise _shape_error(h5, "words", raw_words, f"({VOCAB_SIZE},)")
        try:
            words = tuple(w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in raw_words.tolist())
        except UnicodeDecodeError as err:
            raise UserError(f"{h5.filename}: key 'words' is not UTF-8 text ({err})") from None
    return Trigrams(words=words, **parts)


def _labels(h5: h5py.File, key: str, n_rows: int) -> np.ndarray:
    """One-hot (N, 6) or integer 1..6 labels (N,) -> int64 0..5."""
    y = _numeric(h5, key, _read(h5, key))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 2:
        if y.shape != (n_rows, len(ACTIVITIES)):
            raise _shape_error(h5, key, y, f"({n_rows}, {len(ACTIVITIES)}) one-hot or ({n_rows},) integers")
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise UserError(f"{h5.filename}: key '{key}' is not one-hot (each row needs a single 1, rest 0)")
        return np.argmax(y, axis=1).astype(np.int64)
    if y.shape != (n_rows,):
        raise _shape_error(h5, key, y, f"({n_rows}, {len(ACTIVITIES)}) one-hot or ({n_rows},) integers")
    if not np.array_equal(y, np.round(y)) or y.min() < 1 or y.max() > len(ACTIVITIES):
        raise UserError(f"{h5.filename}: key '{key}' has labels outside 1..{len(ACTIVITIES)}")
    return y.astype(np.int64) - 1


def _sequences(h5: h5py.File, key: str) -> np.ndarray:
    x = _numeric(h5, key, _read(h5, key))
    if x.ndim != 3 or x.shape[2] != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise _shape_error(h5, key, x, "(N, T, 3)")
    return np.ascontiguousarray(x, dtype=np.float64)


def load_activities(path: str | Path) -> Activities:
    """data3: trX (N, 150, 3), trY, tstX, tstY with one-hot or integer labels."""
    with _open(path) as h5:
        train_x = _sequences(h5, "trX")
        test_x = _sequences(h5, "tstX")
        if train_x.shape[1:] != test_x.shape[1:]:
            raise UserError(f"{h5.filename}: 'trX' steps {train_x.shape[1:]} differ from 'tstX' {test_x.shape[1:]}")
        train_y = _labels(h5, "trY", len(train_x))
        test_y = _labels(h5, "tstY", len(test_x))
    return Activities(train_x, train_y, test_x, test_y)
