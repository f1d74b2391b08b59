"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """`git clone` of the committed HEAD of this repository (one per test module)."""
    target = tmp_path_factory.mktemp("clone") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target
