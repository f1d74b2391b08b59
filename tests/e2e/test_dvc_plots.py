"""dvc.yaml's top-level `plots:` covers every figure and curve a stage writes, and its templates render.

Each declared plot is a stage's whole plots/ folder, so a new q2.sizes / q3.models entry or sweep point, or a new
figure in a stage, is drawn by `dvc plots show` / `dvc plots diff` with no edit of dvc.yaml.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from pipeline.common import paths
from tests.conftest import ROOT

TEMPLATES = ROOT / ".dvc" / "plots"  # DVC's template folder: `template: <name>` finds <name>.json here


def _declared() -> dict[str, dict]:
    """{path: properties} of dvc.yaml's top-level plots."""
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    return {k: v or {} for item in plots for k, v in (item.items() if isinstance(item, dict) else [(item, {})])}


def _plots_outputs() -> list[tuple[str, str]]:
    """(stage, output path) of every stage output under plots/ (foreach stages once per entry)."""
    with Repo(str(ROOT)) as repo:
        return [(stage.addressing, out.def_path) for stage in repo.index.stages for out in stage.outs
                if Path(out.def_path).parts[0] == str(paths.PLOTS)]


def _covered(path: str, declared) -> bool:
    return any(path == d or path.startswith(f"{d}/") for d in declared)


def test_every_plots_output_of_every_stage_is_a_declared_plot():
    outputs = _plots_outputs()
    assert outputs, "no stage writes under plots/"
    declared = _declared()
    uncovered = sorted(f"{stage}: {out}" for stage, out in outputs if not _covered(out, declared))
    assert uncovered == [], f"dvc.yaml plots: does not cover {uncovered}; `dvc plots diff` would not show them"
    stale = sorted(d for d in declared if not any(_covered(out, [d]) for _, out in outputs))
    assert stale == [], f"dvc.yaml plots: declares {stale}, which no stage writes"


def test_every_file_under_plots_is_covered():
    """In this checkout: every PNG and CSV under plots/ (none of them undeclared, as 18 PNGs once were)."""
    files = [str(p.relative_to(ROOT)) for p in sorted((ROOT / paths.PLOTS).rglob("*")) if p.is_file()]
    assert {Path(f).suffix for f in files} <= {".png", ".csv"}, files
    assert [f for f in files if not _covered(f, _declared())] == []


@pytest.mark.parametrize("name", sorted({props["template"] for props in _declared().values() if "template" in props}))
def test_every_template_is_vega_lite_with_dvc_anchors(name):
    template = TEMPLATES / f"{name}.json"
    assert template.is_file(), f"dvc.yaml names template {name}: {template} is missing"
    text = template.read_text()
    content = json.loads(text)
    assert content["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    assert '"<DVC_METRIC_DATA>"' in text and "<DVC_METRIC_TITLE>" in text
    assert '"rev"' in text, "two revisions of `dvc plots diff` must be told apart (a channel or facet by rev)"


@pytest.mark.slow
def test_dvc_plots_show_fills_every_declared_plot():
    """`dvc plots show --json` of this checkout: no errors, every CSV drawn with every anchor of its template filled
    (needs the stages' outputs, which git tracks)."""
    shown = json.loads(subprocess.run(["dvc", "plots", "show", "--json"], cwd=ROOT, capture_output=True, text=True,
                                      check=True).stdout)
    assert not shown.get("errors"), shown.get("errors")
    data = shown["data"]
    csvs = [f for f in data if f.endswith(".csv")]
    assert {Path(f).name for f in csvs} >= {paths.CURVE, paths.CURVES, paths.Q2_SUMMARY_CURVES.name,
                                            paths.Q3_COMPARE_CURVES.name}
    for name in csvs:
        [plot] = data[name]
        assert plot["type"] == "vega" and "<DVC_METRIC_" not in json.dumps(plot["content"]), name
