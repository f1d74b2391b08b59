"""Interruption leaves earlier outputs intact; reruns and thread settings give identical files (q2 in a subprocess)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.common import paths
from pipeline.common.seeds import seed_folder
from tests.conftest import Project, Watched, run_stage, stage_env, write_h5

pytestmark = pytest.mark.slow  # every test starts the Q2 training stage as a process

NET = "net"
SEEDS = Project.TINY["q2.seeds"]
RESULT = paths.Q2_TRAIN_RESULTS / NET / paths.RESULT  # the summary over the seeds
CURVES = paths.Q2_TRAIN_PLOTS / NET / paths.CURVES  # every seed's curve
LOG = paths.LOGS / f"q2_train@{NET}.json"


def _model(seed: int) -> Path:
    return paths.Q2_TRAIN_ARTIFACTS / NET / seed_folder(seed) / paths.MODEL


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
    sizes = {NET: {"dim": 8, "hidden": 16, "epochs": epochs, "lr": 0.5, "weight_decay": 0.0}}
    return project.set("q2.sizes", sizes).set("q2.patience", epochs)


def _train(project: Project) -> None:
    proc = run_stage("pipeline.q2.train", [NET], cwd=project.root)
    assert proc.returncode == 0, proc.stderr


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.faults
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupted_training_leaves_earlier_outputs_intact_and_rerun_succeeds(tmp_path, signum):
    project = _project(tmp_path / "proj", rows=60_000, epochs=1)
    _train(project)
    _epochs(project, 500)
    before = _snapshot(project.root)
    assert str(RESULT) in before and str(LOG) in before and all(str(_model(seed)) in before for seed in SEEDS)

    with Watched([sys.executable, "-m", "pipeline.q2.train", NET], project.root, stage_env()) as job:
        job.wait_for("epoch 1/")  # the first per-epoch progress line: training is under way, 499 epochs to go
        job.process.send_signal(signum)
        rest = job.rest()  # once the stage and every worker have exited
    assert job.process.returncode == 130, rest  # pipeline.common.errors.run: SIGTERM and Ctrl-C alike
    assert "interrupted: earlier outputs are unchanged; run `dvc repro` to finish" in rest.splitlines()
    assert _snapshot(project.root) == before, "an earlier output was changed or a temporary file left behind"

    _train(_epochs(project, 2))
    assert [row["stopped_epoch"] for row in json.loads((project.root / RESULT).read_text())["per_seed"]] == [2, 2]
    assert not any((project.root / ".staging").glob("*")), "a staging copy was left behind"


def _run_twice(tmp_path: Path, threads: tuple[str, str], monkeypatch) -> list[Path]:
    """Two identical projects trained for 3 epochs, the first with `threads[0]` BLAS / OpenMP threads in its
    environment, the second with `threads[1]`; their roots."""
    roots = []
    for run, count in zip("ab", threads, strict=True):
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", count)
        monkeypatch.setenv("OMP_NUM_THREADS", count)
        project = _project(tmp_path / run, rows=4_000, epochs=3)
        _train(project)
        roots.append(project.root)
    return roots


def _assert_identical(a: Path, b: Path) -> None:
    """Byte-identical result and curve (no wall-clock values left in them), identical weights."""
    assert (a / RESULT).read_bytes() == (b / RESULT).read_bytes()
    assert len((a / CURVES).read_text().splitlines()) == 1 + 3 * len(SEEDS)
    assert (a / CURVES).read_bytes() == (b / CURVES).read_bytes()
    for seed in SEEDS:
        assert (a / paths.Q2_TRAIN_RESULTS / NET / seed_folder(seed) / paths.RESULT).read_bytes() == (
            b / paths.Q2_TRAIN_RESULTS / NET / seed_folder(seed) / paths.RESULT).read_bytes()
        with np.load(a / _model(seed)) as first, np.load(b / _model(seed)) as second:
            assert first.files == second.files and "param_R" in first.files
            for name in first.files:
                np.testing.assert_array_equal(first[name], second[name])


def test_same_params_and_seed_give_identical_files(tmp_path, monkeypatch):
    a, b = _run_twice(tmp_path, ("1", "1"), monkeypatch)
    _assert_identical(a, b)
    assert "seconds" not in (a / RESULT).read_text() and "seconds" not in (a / CURVES).read_text()


def test_thread_variables_of_the_environment_change_nothing(tmp_path, monkeypatch):
    a, b = _run_twice(tmp_path, ("1", "2"), monkeypatch)
    _assert_identical(a, b)
    for root in (a, b):  # errors.run sets one thread in code, whatever OPENBLAS_NUM_THREADS says
        threads = json.loads((root / LOG).read_text())["environment"]["threads"]
        assert threads and {lib["num_threads"] for lib in threads} == {1}, threads
