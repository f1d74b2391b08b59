"""Damaged outputs of earlier stages under `dvc repro`: the reading stage stops with one line naming the file.

`dvc repro <stage>` would first rerun the stage that wrote a damaged output (its outs changed), so the reader is run
with `--single-item` (`-s`), as a user does to rerun one stage alone; the clone's outputs are the committed ones.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import HANG, dvc_env

pytestmark = [pytest.mark.slow, pytest.mark.faults]
RERUN = "; run `dvc repro` to rewrite it"


def _status(repo) -> list[str]:
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, capture_output=True,
                          text=True, check=True)
    return sorted(line[3:] for line in done.stdout.splitlines())


@pytest.mark.parametrize(("stage", "file", "size", "start"), [
    ("q3_compare", "results/q3/train/gru/seed0/test_predictions.csv", 2000,
     "column predicted holds an empty cell on line "),  # cut just after a comma (4 columns since the trials)
    ("report", "results/q3/compare/comparison.csv", 200, "missing columns "),
])
def test_a_cut_output_under_dvc_repro_is_one_line_and_changes_nothing_else(clone, stage, file, size, start):
    path = clone / file
    original = path.read_bytes()
    path.write_bytes(original[:size])
    try:
        done = subprocess.run([sys.executable, "-m", "dvc", "repro", "-s", stage], cwd=clone, env=dvc_env(),
                              capture_output=True, text=True, timeout=HANG)
        out = done.stdout + done.stderr
        assert done.returncode != 0 and "Traceback" not in out, out
        errors = [line for line in out.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0].startswith(f"error: {file}: {start}") and errors[0].endswith(RERUN), out
        assert _status(clone) == [file]  # only the damaged file differs: the stage's outputs are as committed
    finally:
        path.write_bytes(original)
