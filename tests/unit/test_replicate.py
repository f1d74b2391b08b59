"""tools/replicate.py: the second seed set is disjoint from params.yaml's and of the same size."""

from __future__ import annotations

import pytest
import yaml

from tools import replicate


def test_the_default_seeds_are_disjoint_and_as_many():
    assert replicate.disjoint_seeds([0, 1, 2]) == [3, 4, 5]
    assert replicate.disjoint_seeds([7, 2]) == [8, 9]


def test_overlapping_seeds_are_refused_with_one_line_before_anything_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"q3": {"seeds": [0, 1, 2]}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(replicate, "run", lambda *command: pytest.fail(f"ran {command}"))
    monkeypatch.setattr(replicate, "uncommitted", list)
    assert replicate.main(["--seeds", "2", "3", "4"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: --seeds [2, 3, 4] share seeds with params.yaml q3.seeds [0, 1, 2]: the sets must be disjoint"]
    assert not (tmp_path / "replication").exists()


def test_uncommitted_files_are_refused_with_one_line_before_anything_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"q3": {"seeds": [0, 1, 2]}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(replicate, "run", lambda *command: pytest.fail(f"ran {command}"))
    monkeypatch.setattr(replicate, "uncommitted", lambda: [" M params.yaml", "?? results/x.csv"])
    assert replicate.main([]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: 2 files differ from the commit (first: params.yaml); commit or stash them first: the run is undone "
        "with git checkout"]
