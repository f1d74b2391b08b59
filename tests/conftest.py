"""Shared fixtures: tiny HDF5 files in the course layouts."""

from __future__ import annotations

import h5py
import numpy as np
import pytest


def write_h5(path, **datasets):
    with h5py.File(path, "w") as h5:
        for key, value in datasets.items():
            h5[key] = value
    return path


@pytest.fixture
def tiny_data1(tmp_path):
    rng = np.random.default_rng(0)
    return write_h5(tmp_path / "data1.h5", data=rng.uniform(0, 1, size=(40, 3, 16, 16)))


@pytest.fixture
def tiny_data2(tmp_path):
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 400), ("val", 60), ("test", 60)):
        parts[f"{split}x"] = rng.integers(1, 251, size=(n, 3))
        parts[f"{split}d"] = rng.integers(1, 251, size=n)
    parts["words"] = np.array([f"w{i}".encode() for i in range(250)])
    return write_h5(tmp_path / "data2.h5", **parts)


@pytest.fixture
def tiny_data3(tmp_path):
    rng = np.random.default_rng(0)
    onehot = np.eye(6)
    return write_h5(
        tmp_path / "data3.h5",
        trX=rng.standard_normal((60, 12, 3)), trY=onehot[np.repeat(np.arange(6), 10)],
        tstX=rng.standard_normal((12, 12, 3)), tstY=onehot[np.repeat(np.arange(6), 2)],
    )
