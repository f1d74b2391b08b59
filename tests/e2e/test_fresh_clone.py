"""A fresh clone is up to date: its outputs match dvc.lock, a small change re-runs only what depends on it, and
the shipped models score new data at once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

from pipeline.common import paths
from pipeline.common.seeds import seed_folder
from tests.conftest import dvc_env, set_key
from tools import code_deps

pytestmark = pytest.mark.slow


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=dvc_env(PYTHONPATH=str(cwd)),
                          capture_output=True, text=True)


def test_dvc_status_is_clean_after_git_clone(clone):
    done = _run(clone, "dvc", "status")
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr


def test_a_prediction_setting_re_runs_only_the_prediction_and_the_report(clone):
    params = yaml.safe_load((clone / "params.yaml").read_text())
    set_key(params, "q2.predict.count", params["q2"]["predict"]["count"] + 5)
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        dry = _run(clone, "dvc", "repro", "--dry")
    finally:
        subprocess.run(["git", "checkout", "-q", "--", "params.yaml"], cwd=clone, check=True)
    assert dry.returncode == 0, dry.stderr
    assert set(re.findall(r"Running stage '([^']+)'", dry.stdout)) == {"q2_predict", "report"}, dry.stdout


@pytest.mark.parametrize(("edited", "stale"), [
    ("models/recurrent.py", lambda stage: stage.startswith("q3_") or stage == "report"),
    ("pipeline/q1/baseline.py", lambda stage: stage == "q1_baseline"),
    ("pipeline/common/paths.py", lambda stage: True),
])
def test_a_code_edit_makes_only_the_stages_that_import_the_file_stale(clone, edited, stale):
    source = clone / edited
    source.write_text(source.read_text() + "# an edit\n")
    try:
        done = _run(clone, "dvc", "status", "--json")
    finally:
        subprocess.run(["git", "checkout", "-q", "--", edited], cwd=clone, check=True)
    assert done.returncode == 0, done.stderr
    listed = set(json.loads(done.stdout))
    assert listed and all(stale(stage) for stage in listed), sorted(listed)
    importing = {stage for stage, files in code_deps.expected(clone / "dvc.yaml").items() if edited in files}
    assert {stage.split("@")[0] for stage in listed} == importing, sorted(listed)


def test_the_shipped_models_score_a_file_with_only_the_test_windows(clone, tmp_path):
    params = yaml.safe_load((clone / "params.yaml").read_text())
    source = params["data"]["data3"]
    test_only = tmp_path / "test_only.h5"
    with h5py.File(clone / source, "r") as full, h5py.File(test_only, "w") as out:
        out["tstX"], out["tstY"] = full["tstX"][()], full["tstY"][()]
    for model in params["q3"]["models"]:  # every entry, every seed's model, and their mean
        done = _run(clone, "pipeline.q3.evaluate", "--model", model, "--data", str(test_only))
        assert done.returncode == 0, done.stderr
        shipped = json.loads((clone / paths.Q3_TRAIN_RESULTS / model / paths.RESULT).read_text())
        for row in shipped["per_seed"]:
            artifact = paths.Q3_TRAIN_ARTIFACTS / model / seed_folder(row["seed"]) / paths.MODEL
            assert f"{artifact} on {test_only} (test, " in done.stdout, done.stdout
            assert f"accuracy {row['test_accuracy']:.4f}," in done.stdout, done.stdout
        if len(shipped["seeds"]) > 1:
            assert (f"{model} over {len(shipped['seeds'])} seeds: accuracy {shipped['test_accuracy']['mean']:.4f} "
                    f"+- {shipped['test_accuracy']['std']:.4f}") in done.stdout, done.stdout
