"""Every repository path the docs and the params.yaml / dvc.yaml comments name exists: files move, prose stays."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

DOCS = ["README.md", "CONTRIBUTING.md", "bench/README.md", "params.yaml", "dvc.yaml"]
TOP = "results|plots|metrics|artifacts|pipeline|models|tools|tests|docs|data|bench|replication"
PATH = re.compile(rf"(?<![\w/.])((?:{TOP})/[\w./-]*)")  # a path under a top-level folder of the repository
TEMPLATE = "<{*"  # a path followed by one of these is a pattern (`plots/q3/train/<model>/`), not a file


def named_paths(text: str) -> list[tuple[int, str]]:
    """(line number, path) of every literal repository path in `text`."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in PATH.finditer(line):
            following = line[match.end(1):match.end(1) + 1]
            if not (following and following in TEMPLATE):
                found.append((number, match.group(1).rstrip(".,;:)")))
    return found


def test_a_path_is_found_in_prose_and_a_template_is_not():
    text = "see results/q1/search/search.md, or plots/q3/train/<model>/curve.png (and `tools/busy.py`)."
    assert named_paths(text) == [(1, "results/q1/search/search.md"), (1, "tools/busy.py")]


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc):
    missing = [f"{doc}:{number}: {path}" for number, path in named_paths((ROOT / doc).read_text())
               if not (ROOT / path).exists()]
    assert not missing, "paths that do not exist (moved or renamed?):\n" + "\n".join(missing)
