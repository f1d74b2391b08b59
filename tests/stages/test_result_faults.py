"""Stages that read other stages' outputs, run on a copy of the committed outputs with one file damaged: one
`error: <file>: <what is wrong>; run `dvc repro` to rewrite it` line, exit 2, nothing written."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT, run_stage

pytestmark = pytest.mark.slow
RERUN = "; run `dvc repro` to rewrite it"
PREDICTIONS = "results/q3/train/gru/seed0/test_predictions.csv"
COMPARISON = "results/q3/compare/comparison.csv"


@pytest.fixture
def outputs(tmp_path):
    """params.yaml, data and every output of this checkout, copied."""
    for name in ("params.yaml", "REPORT.md", "report.html"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("data", "metrics", "results", "plots"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def _cut(path, size):
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize(("module", "file", "damage", "problem"), [
    ("pipeline.q3.compare", PREDICTIONS, lambda p: _cut(p, 2000),
     "column predicted holds an empty cell on line "),  # cut just after a comma (4 columns since the trials)
    ("pipeline.q3.compare", PREDICTIONS, lambda p: p.write_text("trial,fragment,true,predicted\n0,0,0,0\n"),
     "has 1 row, expected "),
    ("pipeline.q3.compare", PREDICTIONS, lambda p: p.write_text(""), "empty"),
    ("pipeline.q3.compare", PREDICTIONS, lambda p: p.unlink(), None),
    ("pipeline.report.write", COMPARISON, lambda p: _cut(p, 200), "missing columns "),
    ("pipeline.report.write", "results/q3/train/gru/result.json",
     lambda p: p.write_text(p.read_text().replace('"mean"', '"avg"')), "missing keys test_accuracy.mean"),
    ("pipeline.report.write", "results/q3/train/gru/result.json",
     lambda p: p.write_text(p.read_text().replace('"parameters": ', '"parameters": NaN, "x": ')), "parameters is NaN"),
])
def test_a_damaged_output_is_one_line_naming_it(outputs, module, file, damage, problem):
    damage(outputs / file)
    before = {p: p.read_bytes() for p in (outputs / "metrics").rglob("*") if p.is_file()}
    proc = run_stage(module, cwd=outputs)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    if problem is None:
        assert line == f"error: {file}: missing (run `dvc repro` to produce it)"
    else:
        assert line.startswith(f"error: {file}: {problem}") and line.endswith(RERUN), line
    assert {p: p.read_bytes() for p in (outputs / "metrics").rglob("*") if p.is_file()} == before
