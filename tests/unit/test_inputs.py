"""pipeline.common.inputs: a data file that changed after the stage read it stops the stage before it publishes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.common import errors, inputs
from pipeline.common.errors import UserError


@pytest.fixture
def recording(tmp_path, monkeypatch):
    """A stage run's record of its reads, in a temporary folder, named as DVC names the stage."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(errors, "_stage", "q3_train@gru")
    monkeypatch.setattr(inputs, "_read", None)
    monkeypatch.setattr(inputs, "_params", {})
    inputs.start()


def test_sha256_is_what_sha256sum_prints(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"some data" * 100000)
    assert inputs.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_unchanged_since_read_pass(recording, tmp_path):
    (tmp_path / "a.h5").write_bytes(b"a")
    inputs.record("a.h5")
    inputs.check()


@pytest.mark.parametrize("change", ["rewritten", "replaced", "deleted"])
def test_a_file_changed_since_read_is_one_line_per_file(recording, tmp_path, change):
    for name in ("a.h5", "b.h5", "c.h5"):
        (tmp_path / name).write_bytes(name.encode())
        inputs.record(name)
    if change == "rewritten":
        (tmp_path / "b.h5").write_bytes(b"other")
        (tmp_path / "c.h5").write_bytes(b"other")
    elif change == "replaced":  # a new file renamed over it, as a copy tool does
        (tmp_path / "new").write_bytes(b"other")
        (tmp_path / "new").rename(tmp_path / "b.h5")
        (tmp_path / "c.h5").write_bytes(b"c.h5 ")
    else:
        (tmp_path / "b.h5").unlink()
        (tmp_path / "c.h5").unlink()
    with pytest.raises(UserError) as err:
        inputs.check()
    assert str(err.value).splitlines() == ["b.h5 changed while q3_train@gru ran; run again",
                                           "c.h5 changed while q3_train@gru ran; run again"]


def test_a_file_is_compared_with_its_first_read(recording, tmp_path):
    (tmp_path / "a.h5").write_bytes(b"a")
    inputs.record("a.h5")
    (tmp_path / "a.h5").write_bytes(b"b")
    inputs.record("a.h5")  # read again after the change: the stage has read two versions
    with pytest.raises(UserError, match="^a.h5 changed while"):
        inputs.check()


def test_nothing_is_recorded_outside_a_stage_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(inputs, "_read", None)
    (tmp_path / "a.h5").write_bytes(b"a")
    inputs.record("a.h5")
    (tmp_path / "a.h5").unlink()
    inputs.check()


def write_params(tmp_path, epochs, lr=0.1):
    (tmp_path / "params.yaml").write_text(f"q3:\n  models:\n    gru:\n      epochs: {epochs}\n      lr: {lr}\n"
                                          "  seeds: [0, 1]\n")


def test_params_unchanged_since_loaded_pass(recording, tmp_path):
    write_params(tmp_path, 2)
    inputs.record_params(Path("params.yaml"), {"q3": {"models": {"gru": {"epochs": 2, "lr": 0.1}}, "seeds": [0, 1]}},
                         ["q3.models.gru", "q3.seeds"])
    (tmp_path / "params.yaml").write_text("# a comment, the same values\n" + (tmp_path / "params.yaml").read_text())
    inputs.check()


def test_a_params_value_changed_while_the_stage_ran_is_one_line_naming_the_key(recording, tmp_path):
    """As with two `dvc exp run -S` at once in one workspace: the second rewrites params.yaml under the first."""
    write_params(tmp_path, 2)
    inputs.record_params(Path("params.yaml"), {"q3": {"models": {"gru": {"epochs": 2, "lr": 0.1}}, "seeds": [0, 1]}},
                         ["q3.models.gru", "q3.seeds"])
    write_params(tmp_path, 1, lr=1)
    with pytest.raises(UserError) as err:
        inputs.check()
    assert str(err.value).splitlines() == [
        "params.yaml q3.models.gru.epochs changed while q3_train@gru ran (from 2 to 1); its outputs would not match "
        "it; run again",
        "params.yaml q3.models.gru.lr changed while q3_train@gru ran (from 0.1 to 1); its outputs would not match "
        "it; run again"]


def test_a_params_file_unreadable_at_the_end_is_one_line(recording, tmp_path):
    write_params(tmp_path, 2)
    inputs.record_params(Path("params.yaml"), {"q3": {"seeds": [0, 1]}}, ["q3.seeds"])
    (tmp_path / "params.yaml").write_text("q3: [cut")
    with pytest.raises(UserError, match=r"^params.yaml changed while q3_train@gru ran and can no longer be read"):
        inputs.check()
