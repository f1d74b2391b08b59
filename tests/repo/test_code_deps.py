"""dvc.yaml lists, for each stage, exactly the project files its module imports (tools/code_deps.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tools import code_deps


def test_every_stage_depends_on_exactly_the_code_it_imports():
    listed = {name: sorted(deps) for name, (_, deps) in code_deps.stages().items()}
    expected = code_deps.expected()
    wrong = {name: files for name, files in expected.items() if listed[name] != files}
    fix = "".join(f"\n  {name}:\n    deps:\n" + "".join(f"      - {f}\n" for f in files)
                  for name, files in wrong.items())
    assert not wrong, ("the code deps in dvc.yaml differ from what the stages import; run "
                       f"`python -m tools.code_deps --write`, or list these (besides the data deps):{fix}")


def test_a_model_file_is_a_dep_of_the_stages_that_use_it_only():
    expected = code_deps.expected()
    using = {name for name, files in expected.items() if "models/recurrent.py" in files}
    assert using and all(name.startswith("q3_") or name == "report" for name in using), using
    assert {name for name, files in expected.items() if "pipeline/q1/baseline.py" in files} == {"q1_baseline"}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


def test_the_closure_follows_every_kind_of_import_and_stops_at_the_project(tmp_path):
    write(tmp_path, {
        "pipeline/q9/__init__.py": "",
        "pipeline/q9/stage.py": """
            import numpy as np
            from pipeline.common import io
            from . import helper
            from .params import SCHEMA

            def main():
                from models.cell import Cell  # a function-level import counts too
        """,
        "pipeline/q9/helper.py": "import pipeline.common.paths\n",
        "pipeline/q9/params.py": "SCHEMA = {}\n",
        "pipeline/q9/unused.py": "",
        "pipeline/common/__init__.py": "",
        "pipeline/common/io.py": "from ..common import paths\n",
        "pipeline/common/paths.py": "",
        "models/__init__.py": "",
        "models/cell.py": "from models import contract\n",
        "models/contract.py": "",
        "models/other.py": "",
    })
    assert code_deps.closure("pipeline.q9.stage", tmp_path) == [
        "models/__init__.py", "models/cell.py", "models/contract.py",
        "pipeline/common/__init__.py", "pipeline/common/io.py", "pipeline/common/paths.py",
        "pipeline/q9/__init__.py", "pipeline/q9/helper.py", "pipeline/q9/params.py", "pipeline/q9/stage.py"]


def test_write_replaces_the_code_deps_and_keeps_everything_else(tmp_path):
    before = textwrap.dedent("""\
        stages:
          one:  # a comment
            cmd: python -m pipeline.q1.preprocess
            deps:
              - pipeline/common
              - ${data.data1}
              - models
            outs:
              - results/one
          two:
            foreach: ${q2.sizes}
            do:
              cmd: python -m pipeline.q2.train ${key}
              deps:
                - results/x
                - pipeline
    """)
    after = code_deps.rewrite(before, {"one": ["models/a.py", "pipeline/b.py"], "two": ["pipeline/c.py"]})
    assert after == textwrap.dedent("""\
        stages:
          one:  # a comment
            cmd: python -m pipeline.q1.preprocess
            deps:
              - models/a.py
              - pipeline/b.py
              - ${data.data1}
            outs:
              - results/one
          two:
            foreach: ${q2.sizes}
            do:
              cmd: python -m pipeline.q2.train ${key}
              deps:
                - results/x
                - pipeline/c.py
    """)
    assert code_deps.rewrite(after, {"one": ["models/a.py", "pipeline/b.py"], "two": ["pipeline/c.py"]}) == after

