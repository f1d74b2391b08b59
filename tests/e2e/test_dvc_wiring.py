"""dvc.yaml and the stages agree: each stage's params: are the keys it reads, its code deps cover what it imports."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from tests.conftest import ROOT


def _stages() -> list[tuple[str, str, list[str], list[str], list[str]]]:
    """(stage name, module, command arguments, params keys, other deps) of every stage dvc.yaml resolves to."""
    found = []
    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            prefix, module, *args = stage.cmd.split()[1:] if stage.cmd.startswith("python ") else [None, None]
            assert prefix == "-m", stage.cmd
            params = [key for dep in stage.deps if isinstance(dep, ParamsDependency) for key in dep.params]
            deps = [dep.def_path for dep in stage.deps if not isinstance(dep, ParamsDependency)]
            found.append((stage.addressing, module, args, params, deps))
    return found


STAGES = _stages()


@pytest.mark.parametrize(("stage", "module", "args", "params", "deps"), STAGES, ids=[s[0] for s in STAGES])
def test_dvc_params_are_the_keys_the_stage_reads(stage, module, args, params, deps):
    stage_module = importlib.import_module(module)
    placeholder = {"pipeline.q2.train": "name", "pipeline.q3.train": "model"}.get(module)
    names = {placeholder: args[0]} if placeholder else {}
    declared = [key.format(**names) for key in stage_module.PARAMS]
    assert sorted(params) == sorted(declared), f"dvc.yaml params of {stage} differ from {module}.PARAMS"


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted({s[1] for s in STAGES}))
def test_code_deps_cover_every_module_the_stage_imports(module):
    """What Python loads at run time is within the deps tools/code_deps.py finds in the source."""
    code = (f"import importlib, json, sys; importlib.import_module({module!r}); "
            "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)
    ours = {str(Path(f).resolve().relative_to(ROOT)) for f in loaded
            if f and Path(f).resolve().is_relative_to(ROOT) and ".venv" not in Path(f).parts}
    for stage, stage_module, _, _, deps in STAGES:
        if stage_module == module:
            uncovered = sorted(f for f in ours if not any(f == d or f.startswith(f"{d}/") for d in deps))
            assert uncovered == [], f"{stage} imports {uncovered}, which no dep of it covers"
