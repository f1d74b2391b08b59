"""Reading the course's HDF5 files: every expected problem (missing or unreadable file, missing key, wrong
dtype, NaN/inf, wrong shape) is a UserError with one line naming the file, the key and the problem.

A stage run records each file's hash as it opens it (pipeline.common.inputs). The study loaders
(pipeline.q1.data, pipeline.q2.data, pipeline.q3.data) build on these helpers.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pipeline.common import inputs
from pipeline.common.errors import UserError


def open_file(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    inputs.record(path)  # checked before the stage's outputs are swapped in
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise UserError(f"{path}: not a readable HDF5 file ({err.__class__.__name__}: {err})") from None


def read_key(h5: h5py.File, key: str) -> np.ndarray:
    """The whole dataset `key`; a damaged file (h5py raises OSError, RuntimeError or KeyError) is a UserError."""
    try:
        if key not in h5:
            present = ", ".join(sorted(h5.keys())) or "none"
            raise UserError(f"{h5.filename}: key '{key}' missing (keys present: {present})")
        return h5[key][()]
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
        raise UserError(f"{h5.filename}: key '{key}' cannot be read, the file may be damaged ({err})") from None


def numeric(h5: h5py.File, key: str, array: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating) or array.dtype == bool):
        raise UserError(f"{h5.filename}: key '{key}' has dtype {array.dtype}, expected numbers")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise UserError(f"{h5.filename}: key '{key}' contains {bad} NaN or inf values")
    return array


def shape_error(h5: h5py.File, key: str, array: np.ndarray, expected: str) -> UserError:
    return UserError(f"{h5.filename}: key '{key}' has shape {array.shape}, expected {expected}")
