"""End to end: the DVC pipeline runs in a copy of the repository, and a second `dvc repro` is a no-op."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, dvc_env

# Tiny settings for the expensive stages (the same keys a user would pass with `dvc exp run -S`).
TINY = {
    "q1.preprocess.sample_size": 20,
    "q1.search.beta": [1.0],
    "q1.search.rho": [0.05, 0.2],
    "q1.search.iterations": 20,
    "q1.search.min_r2": 0.01,
    "q1.lbfgs.iterations": 20,
    "q1.lbfgs.log_every": 10,
    "q1.sweep.hidden": [10, 20],
    "q1.sweep.lambda": [0, 0.001],
    "q2.sizes.d32_p256.epochs": 1,
    "q2.sizes.d16_p128.epochs": 1,
    "q2.sizes.d8_p64.epochs": 1,
    "q2.train_eval_size": 1000,
    "q3.train_eval_size": 64,
    "q2.seeds": [0, 1],  # two seeds: the per-seed folders, spreads and median seed, at two thirds of the time
    "q3.seeds": [0, 1],
}


def _dvc(cwd: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=dvc_env(), capture_output=True, text=True)
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _set(params: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    assert leaf in node, f"params.yaml has no {dotted}"
    node[leaf] = value


def make_tiny(params: dict) -> None:
    """Apply TINY to a loaded params.yaml, and one epoch to every entry of q3.models, whatever its name."""
    for key, value in TINY.items():
        _set(params, key, value)
    for entry in params["q3"]["models"].values():
        entry["epochs"] = 1


def copy_repository(dst: Path) -> Path:
    """The files git would submit (tracked and new, not ignored) copied into a fresh git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    return dst


@pytest.mark.slow
def test_pipeline_runs_and_second_repro_is_a_no_op(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    for generated in ("dvc.lock", "metrics", "plots", "results", "artifacts", "REPORT.md"):
        path = repo / generated
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    make_tiny(params)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    _dvc(repo, "repro")
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for stage in lock.values():
        for out in stage.get("outs", []):
            assert (repo / out["path"]).exists(), f"{out['path']} was not produced"
    assert set(stages) <= {name.split("@")[0] for name in lock}, "some stage never ran"

    assert "up to date" in _dvc(repo, "status")
    second = _dvc(repo, "repro")
    assert "didn't change" in second or "up to date" in second
    assert "Running stage" not in second

    # A new network is one params.yaml entry: it gets its own stage, and only what reads q2.sizes re-runs.
    params["q2"]["sizes"]["d4_p16"] = {"dim": 4, "hidden": 16, "epochs": 1, "lr": 0.5, "weight_decay": 0.0}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dry = _dvc(repo, "repro", "--dry")
    assert set(re.findall(r"Running stage '([^']+)'", dry)) == {"q2_train@d4_p16", "q2_summary", "report"}, dry

    # A Q3 model is one params.yaml entry of any name: a 2-layer GRU is trained, compared and written up by dvc repro,
    # and only its own q3_train and what reads q3.models (compare, report) run.
    del params["q2"]["sizes"]["d4_p16"]
    params["q3"]["models"]["gru2"] = {**params["q3"]["models"]["gru"], "layers": 2}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = _dvc(repo, "repro")
    assert set(re.findall(r"Running stage '([^']+)'", ran)) == {"q3_train@gru2", "q3_compare", "report"}, ran
    assert set(json.loads((repo / "metrics" / "q3.json").read_text())["gru2"]) >= {"test_accuracy", "test_accuracy_low"}
    differences = (repo / "results" / "q3" / "compare" / "differences.csv").read_text()
    assert "recipe,architecture,gru,gru2," in differences
    report = (repo / "REPORT.md").read_text(encoding="utf-8")
    assert "#### `gru2`: GRU, 2 layers of 128 units" in report
