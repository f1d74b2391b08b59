"""Interruption leaves earlier outputs intact; reruns give identical numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import write_h5

ROOT = Path(__file__).resolve().parents[1]
WALL_TIME_KEYS = ("seconds",)  # wall-clock durations: the only values allowed to differ between reruns


def _trigram_file(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(1)
    parts = {}
    for split, n in (("train", rows), ("val", rows // 10), ("test", rows // 10)):
        parts[f"{split}x"] = rng.integers(1, 251, size=(n, 3))
        parts[f"{split}d"] = (parts[f"{split}x"][:, 2] % 250) + 1  # learnable: next word follows the last
    parts["words"] = np.array([f"w{i}".encode() for i in range(250)])
    return write_h5(path, **parts)


def _train_command(data: Path, out: Path, epochs: int) -> list[str]:
    return [
        sys.executable, "-m", "pipeline.q2_train", "--name", "net", "--dim", "8", "--hidden", "16",
        "--data", str(data), "--epochs", str(epochs), "--patience", str(epochs), "--train-eval-size", "1000",
        "--artifacts", str(out / "artifacts"), "--plots", str(out / "plots"), "--results", str(out / "results"),
    ]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_wall_times(text: str) -> dict:
    return {k: v for k, v in json.loads(text).items() if not any(w in k for w in WALL_TIME_KEYS)}


def test_killed_training_leaves_earlier_outputs_intact_and_rerun_succeeds(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    data = _trigram_file(tmp_path / "data2.h5", rows=60_000)
    out = tmp_path / "out"
    subprocess.run(_train_command(data, out, epochs=1), cwd=ROOT, env=env, check=True, capture_output=True)
    before = _snapshot(out)
    assert "results/net.json" in before and "artifacts/net.npz" in before

    job = subprocess.Popen(_train_command(data, out, epochs=500), cwd=ROOT, env=env, stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, text=True)
    try:
        line = job.stderr.readline()  # the first per-epoch progress line: training is under way
        assert "epoch" in line, line
        time.sleep(0.3)
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=60)
    finally:
        job.kill()
    assert job.returncode != 0
    assert _snapshot(out) == before, "an earlier output was changed or a temporary file left behind"

    subprocess.run(_train_command(data, out, epochs=2), cwd=ROOT, env=env, check=True, capture_output=True)
    assert json.loads((out / "results" / "net.json").read_text())["stopped_epoch"] == 2


def test_same_params_and_seed_give_identical_results(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    data = _trigram_file(tmp_path / "data2.h5", rows=4_000)
    results, curves = [], []
    for run in ("a", "b"):
        out = tmp_path / run
        subprocess.run(_train_command(data, out, epochs=3), cwd=ROOT, env=env, check=True, capture_output=True)
        results.append(_without_wall_times((out / "results" / "net.json").read_text()))
        curves.append(pd.read_csv(out / "plots" / "net_curve.csv").drop(columns=list(WALL_TIME_KEYS)))
    assert results[0] == results[1]
    pd.testing.assert_frame_equal(curves[0], curves[1], check_exact=True)
    weights = [np.load(tmp_path / run / "artifacts" / "net.npz") for run in ("a", "b")]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
