"""Shared fixtures (tiny HDF5 files in the course layouts) and helpers that run a stage's command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from pipeline.errors import run
from pipeline.nargs import expand_nargs

ROOT = Path(__file__).resolve().parents[1]


def write_h5(path, **datasets):
    with h5py.File(path, "w") as h5:
        for key, value in datasets.items():
            h5[key] = value
    return path


def make_data1(path):
    """40 random RGB patches (40, 3, 16, 16) in [0, 1]."""
    rng = np.random.default_rng(0)
    return write_h5(path, data=rng.uniform(0, 1, size=(40, 3, 16, 16)))


def make_data2(path):
    """400 / 60 / 60 random 1-based trigrams and their 4th words, 250 words w0..w249."""
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 400), ("val", 60), ("test", 60)):
        parts[f"{split}x"] = rng.integers(1, 251, size=(n, 3))
        parts[f"{split}d"] = rng.integers(1, 251, size=n)
    parts["words"] = np.array([f"w{i}".encode() for i in range(250)])
    return write_h5(path, **parts)


def make_data3(path):
    """60 training and 12 test random sequences (N, 12, 3), classes in blocks, one-hot labels."""
    rng = np.random.default_rng(0)
    onehot = np.eye(6)
    return write_h5(
        path,
        trX=rng.standard_normal((60, 12, 3)), trY=onehot[np.repeat(np.arange(6), 10)],
        tstX=rng.standard_normal((12, 12, 3)), tstY=onehot[np.repeat(np.arange(6), 2)],
    )


@pytest.fixture
def tiny_data1(tmp_path):
    return make_data1(tmp_path / "data1.h5")


@pytest.fixture
def tiny_data2(tmp_path):
    return make_data2(tmp_path / "data2.h5")


@pytest.fixture
def tiny_data3(tmp_path):
    return make_data3(tmp_path / "data3.h5")


def invoke(module, args, monkeypatch, capsys) -> tuple[int, list[str]]:
    """Run a stage's Typer app in-process as `python -m` would (list options expanded as in its __main__).

    Returns the exit code and the stderr lines.
    """
    argv = [str(a) for a in args]
    monkeypatch.setattr(sys, "argv", [module.__name__, *expand_nargs(argv, getattr(module, "LIST_OPTIONS", ()))])
    with pytest.raises(SystemExit) as done:
        run(module.app)
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def run_stage(module: str, args, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m <module> args` from the repository root in a subprocess (text output captured)."""
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=timeout)
