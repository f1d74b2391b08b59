"""dvc.lock records only stages dvc.yaml defines: DVC keeps the entry of a removed or renamed stage for ever."""

from __future__ import annotations

import yaml
from dvc.repo import Repo

from tests.conftest import ROOT


def test_every_locked_stage_is_a_stage_of_dvc_yaml():
    locked = set(yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"])
    with Repo(str(ROOT)) as repo:
        defined = {stage.addressing for stage in repo.index.stages}
    orphans = sorted(locked - defined)
    assert not orphans, f"dvc.lock holds entries of stages dvc.yaml no longer has (delete them): {orphans}"
