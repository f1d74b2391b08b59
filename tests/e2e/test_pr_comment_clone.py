"""The pull-request comment (tools/pr_comment.py) built in a clone of this repository against its own HEAD: a clean
clone says that nothing changed; a changed parameter, a worse metric and a changed image each show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, dvc_env
from tools.pr_comment import MARKER

pytestmark = pytest.mark.slow


def _comment(clone: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tools.pr_comment", "--base", "HEAD", *args], cwd=clone,
                          env=dvc_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_clean_clone_says_nothing_changed(clone):
    shown = _comment(clone)
    assert shown.startswith(MARKER)
    assert "No parameter changed against `HEAD`." in shown
    assert "No metric changed against `HEAD`." in shown
    assert "**Tolerance check: passed.**" in shown
    assert "No image in the repository differs from `HEAD`." in shown


def test_a_changed_param_metric_and_image_show(clone, tmp_path):
    params = clone / "params.yaml"
    params.write_text(params.read_text().replace("    top: 10\n", "    top: 7\n", 1))
    q3 = clone / "metrics" / "q3.json"
    metrics = json.loads(q3.read_text())
    metrics["gru_aug"]["test_accuracy"] -= 0.2  # its seeds spread by about 2 points: far beyond the noise
    q3.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    images = sorted(path.relative_to(clone).as_posix() for path in (clone / "plots").rglob("*.png"))
    (clone / images[0]).write_bytes((clone / images[1]).read_bytes())

    shown = _comment(clone, "--plots-url", "https://example.invalid/plots", "--images-dir", str(tmp_path / "img"))

    params_part, rest = shown.split("### Metrics")
    metrics_part, plots_part = rest.split("### Plots")
    assert "q2.predict.top" in params_part and "| 7 " in params_part
    assert "gru_aug.test_accuracy" in metrics_part
    assert "**Tolerance check: FAILED**" in metrics_part
    assert "- metrics/q3.json:gru_aug.test_accuracy:" in metrics_part
    assert "(https://example.invalid/plots)" in plots_part
    assert f"| `{images[0]}` | ![base](" in plots_part
    flat = images[0].replace("/", "_")
    assert (tmp_path / "img" / f"base_{flat}").read_bytes() != (tmp_path / "img" / f"new_{flat}").read_bytes()
