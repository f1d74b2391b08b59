"""The hosted CI workflows lint clean with actionlint (from requirements.lock). actionlint also runs shellcheck on the
`run:` scripts when shellcheck is on PATH."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert found, "actionlint is not installed: pip install --require-hashes -r requirements.lock"
    return found


def _lint(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", *map(str, files)], cwd=ROOT, capture_output=True, text=True)


def test_the_workflows_lint_clean():
    assert WORKFLOWS, "no workflow in .github/workflows"
    done = _lint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_fails_on_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "steps.plots.outputs.artifact-url" in text
    broken.write_text(text.replace("steps.plots.outputs.artifact-url", "steps.plot.outputs.artifact-url"))
    done = _lint(broken)
    assert done.returncode != 0 and 'property "plot" is not defined' in done.stdout, done.stdout + done.stderr
