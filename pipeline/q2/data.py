"""data2.h5: trainx/traind, valx/vald, testx/testd (1-based word indices) and the 250 words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from pipeline.common.errors import UserError
from pipeline.common.h5 import numeric, open_file, read_key, shape_error

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


def _indices(h5: h5py.File, key: str, ndim: int) -> np.ndarray:
    """1-based word indices -> 0-based int64; (3, N) MATLAB-style layouts are transposed."""
    array = numeric(h5, key, read_key(h5, key))
    if ndim == 2 and array.ndim == 2 and array.shape[0] == 3 and array.shape[1] != 3:
        array = array.T
    if ndim == 1 and array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    expected = "(N, 3)" if ndim == 2 else "(N,)"
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 3) or array.shape[0] == 0:
        raise shape_error(h5, key, array, expected)
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
    with open_file(path) as h5:
        parts = {}
        for split in ("train", "val", "test"):
            x = _indices(h5, f"{split}x", 2)
            d = _indices(h5, f"{split}d", 1)
            if len(x) != len(d):
                raise UserError(f"{h5.filename}: '{split}x' has {len(x)} rows but '{split}d' has {len(d)}")
            parts[f"{split}_x"], parts[f"{split}_d"] = x, d
        raw_words = np.asarray(read_key(h5, "words")).reshape(-1)
        if raw_words.shape != (VOCAB_SIZE,):
            raise shape_error(h5, "words", raw_words, f"({VOCAB_SIZE},)")
        try:
            words = tuple(w.decode("utf-8") if isinstance(w, bytes) else str(w) for w in raw_words.tolist())
        except UnicodeDecodeError as err:
            raise UserError(f"{h5.filename}: key 'words' is not UTF-8 text ({err})") from None
    return Trigrams(words=words, **parts)
