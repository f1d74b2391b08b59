"""Interruption leaves earlier outputs intact; reruns give identical numbers (q2 training in a subprocess)."""

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

from pipeline.common import paths
from tests.conftest import ROOT, Project, run_stage, write_h5

NET = "net"
WALL_TIME_KEYS = ("seconds",)  # wall-clock durations: the only values allowed to differ between reruns


def _project(root: Path, rows: int, epochs: int) -> Project:
    """A project whose data2.h5 is learnable (the next word follows the last) and whose q2.sizes is NET alone."""
    project = Project(root)
    rng = np.random.default_rng(1)
    parts = {}
    for split, n in (("train", rows), ("val", rows // 10), ("test", rows // 10)):
        parts[f"{split}x"] = rng.integers(1, 251, size=(n, 3))
        parts[f"{split}d"] = (parts[f"{split}x"][:, 2] % 250) + 1
    parts["words"] = np.array([f"w{i}".encode() for i in range(250)])
    write_h5(root / project.params["data"]["data2"], **parts)
    project.set("q2.train_eval_size", 1000)
    return _epochs(project, epochs)


def _epochs(project: Project, epochs: int) -> Project:
    return project.set("q2.sizes", {NET: {"dim": 8, "hidden": 16, "epochs": epochs}}).set("q2.patience", epochs)


def _train(project: Project) -> None:
    proc = run_stage("pipeline.q2.train", [NET], cwd=project.root)
    assert proc.returncode == 0, proc.stderr


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _without_wall_times(text: str) -> dict:
    return {k: v for k, v in json.loads(text).items() if not any(w in k for w in WALL_TIME_KEYS)}


def test_killed_training_leaves_earlier_outputs_intact_and_rerun_succeeds(tmp_path):
    project = _project(tmp_path / "proj", rows=60_000, epochs=1)
    _train(project)
    _epochs(project, 500)
    before = _snapshot(project.root)
    assert str(paths.Q2_TRAIN_RESULTS / NET / paths.RESULT) in before
    assert str(paths.Q2_TRAIN_ARTIFACTS / NET / paths.MODEL) in before

    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    job = subprocess.Popen([sys.executable, "-m", "pipeline.q2.train", NET], cwd=project.root, env=env,
                           stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = job.stderr.readline()  # the first per-epoch progress line: training is under way
        assert "epoch" in line, line
        time.sleep(0.3)
        assert job.poll() is None, "training ended before it could be interrupted"
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=60)
    finally:
        job.kill()
    assert job.returncode == 130  # pipeline.common.errors.run: SIGTERM is handled like Ctrl-C
    assert _snapshot(project.root) == before, "an earlier output was changed or a temporary file left behind"

    _train(_epochs(project, 2))
    assert json.loads((project.root / paths.Q2_TRAIN_RESULTS / NET / paths.RESULT).read_text())["stopped_epoch"] == 2


def test_same_params_and_seed_give_identical_results(tmp_path):
    results, curves, weights = [], [], []
    for run in ("a", "b"):
        project = _project(tmp_path / run, rows=4_000, epochs=3)
        _train(project)
        results.append(_without_wall_times((project.root / paths.Q2_TRAIN_RESULTS / NET / paths.RESULT).read_text()))
        curve = pd.read_csv(project.root / paths.Q2_TRAIN_PLOTS / NET / paths.CURVE)
        curves.append(curve.drop(columns=list(WALL_TIME_KEYS)))
        weights.append(np.load(project.root / paths.Q2_TRAIN_ARTIFACTS / NET / paths.MODEL))
    assert results[0] == results[1]
    assert len(curves[0]) == 3
    pd.testing.assert_frame_equal(curves[0], curves[1], check_exact=True)
    assert weights[0].files == weights[1].files and "param_R" in weights[0].files
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
