"""The baseline stages on tiny data in a temporary project: what they write and that they read only their keys."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.common import paths
from pipeline.common.seeds import seed_folder, spread
from pipeline.q1 import baseline as q1_baseline
from pipeline.q2 import baseline as q2_baseline
from pipeline.q3 import baseline as q3_baseline


def test_q1_baseline_scores_pca_for_every_lhid_of_the_study(project, monkeypatch, capsys):
    project.set("q1.sweep.hidden", [2, 8])
    code, err = project.run(q1_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    scores = json.loads((paths.Q1_BASELINE_RESULTS / "pca.json").read_text())["heldout_r2"]
    assert list(scores) == ["2", "4", "8"]  # q1.hidden = 4 and the sweep's, sorted
    assert scores["2"] < scores["4"] < scores["8"] <= 1


def test_q2_baseline_writes_weights_and_scores(project, monkeypatch, capsys):
    code, err = project.run(q2_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    result = json.loads((paths.Q2_BASELINE_RESULTS / "counts.json").read_text())
    assert sum(result["weights"].values()) == pytest.approx(1, abs=1e-5)
    assert set(result["weights"]) == {"4-gram", "3-gram", "2-gram", "1-gram", "uniform"}
    assert 0 < result["val_cross_entropy"] and 0 <= result["test_accuracy"] <= 1


def test_q3_baseline_chooses_its_weight_decay_on_validation(project, monkeypatch, capsys):
    project.set("q3.baseline.weight_decay", [0.01, 1.0])
    code, err = project.run(q3_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    result = json.loads((paths.Q3_BASELINE_RESULTS / "summary_softmax.json").read_text())
    assert result["features"] == 36 and result["seeds"] == [0, 1]  # q3.seeds of the project
    assert [row["seed"] for row in result["per_seed"]] == [0, 1]
    for row in result["per_seed"]:  # each seed's own split chooses its own decay
        assert set(row["val_accuracy"]) == {"0.01", "1"} and row["weight_decay"] in (0.01, 1.0)
        assert row["val_accuracy"][f"{row['weight_decay']:g}"] == max(row["val_accuracy"].values())
        assert 0 <= row["test_accuracy"] <= 1
    assert result["test_accuracy"] == spread([row["test_accuracy"] for row in result["per_seed"]])
    for row in result["per_seed"]:  # every test window's prediction, for q3_compare's intervals
        predictions = pd.read_csv(paths.Q3_BASELINE_RESULTS / seed_folder(row["seed"]) / paths.TEST_PREDICTIONS)
        assert list(predictions.columns) == ["trial", "fragment", "true", "predicted"] and len(predictions) == 12
        assert list(predictions["true"]) == list(np.repeat(np.arange(6), 2))
        assert np.mean(predictions["true"] == predictions["predicted"]) == pytest.approx(row["test_accuracy"])


def test_q3_baseline_draws_the_split_of_each_seed(project, monkeypatch, capsys):
    project.set("q3.seeds", [1])
    code, err = project.run(q3_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    alone = json.loads((paths.Q3_BASELINE_RESULTS / "summary_softmax.json").read_text())
    project.set("q3.seeds", [0, 1])
    code, err = project.run(q3_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    both = json.loads((paths.Q3_BASELINE_RESULTS / "summary_softmax.json").read_text())
    assert both["per_seed"][1] == alone["per_seed"][0]  # a seed's row does not depend on the other seeds
    assert alone["test_accuracy"]["std"] == 0.0


def test_q3_baseline_names_a_bad_weight_decay(project, monkeypatch, capsys):
    project.set("q3.baseline.weight_decay", [0.1, -1.0])
    code, err = project.run(q3_baseline, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: params.yaml q3.baseline.weight_decay[1] = -1.0: must be >= 0"]
