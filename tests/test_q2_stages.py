"""Q2 stage scripts: option checks, the top-10 table, nearest words, and a tiny end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models.trainer import TrainingDiverged
from pipeline import q2_embeddings, q2_predict, q2_summary, q2_train
from pipeline.q2_network import load_network
from tests.conftest import invoke


def train_args(tmp_path, data, name="tiny", **options):
    base = {"name": name, "dim": 4, "hidden": 8, "data": data, "epochs": 3, "artifacts": tmp_path / "artifacts",
            "plots": tmp_path / "plots", "results": tmp_path / "results"}
    base.update(options)
    return [item for key, value in base.items() for item in (f"--{key.replace('_', '-')}", value)]


def test_bad_training_options_exit_2_with_one_line_per_key(tmp_path, tiny_data2, monkeypatch, capsys):
    args = train_args(tmp_path, tiny_data2, lr=-0.1, momentum=1.0, patience=0, dim=0, schedule="linear",
                      dtype="float16")
    code, err = invoke(q2_train, args, monkeypatch, capsys)
    assert code == 2
    expected = ["q2.lr = -0.1", "q2.momentum = 1.0", "q2.patience = 0", "q2.sizes.tiny.dim = 0",
                "q2.schedule = 'linear'", "q2.dtype = 'float16'"]
    assert len(err) == len(expected)
    for key in expected:
        assert sum(line.startswith(f"error: params.yaml {key}: ") for line in err) == 1, key
    assert not (tmp_path / "results").exists()


def test_cosine_needs_lr_min_below_lr(tmp_path, tiny_data2, monkeypatch, capsys):
    code, err = invoke(q2_train, train_args(tmp_path, tiny_data2, schedule="cosine", lr=0.1, lr_min=0.2),
                       monkeypatch, capsys)
    assert code == 2 and err == ["error: params.yaml q2.lr_min = 0.2 must be < q2.lr = 0.1"]


def test_divergence_names_the_epoch_and_the_learning_rate(tmp_path, tiny_data2, monkeypatch, capsys):
    def diverging(*args, **kwargs):
        raise TrainingDiverged(4, float("nan"))

    monkeypatch.setattr(q2_train, "train", diverging)
    code, err = invoke(q2_train, train_args(tmp_path, tiny_data2, lr=5.0), monkeypatch, capsys)
    assert code == 2 and len(err) == 1
    assert "diverged at epoch 4" in err[0] and "q2.lr (now 5.0)" in err[0]


def test_bad_predict_and_embedding_options(tmp_path, tiny_data2, monkeypatch, capsys):
    code, err = invoke(q2_predict, ["--data", tiny_data2, "--count", 0, "--top", -1], monkeypatch, capsys)
    assert code == 2 and err == ["error: params.yaml q2.predict.count = 0: must be a positive integer",
                                 "error: params.yaml q2.predict.top = -1: must be a positive integer"]
    code, err = invoke(q2_predict, ["--data", tiny_data2, "--artifacts", tmp_path], monkeypatch, capsys)
    assert code == 2 and len(err) == 1 and "d32_p256.npz: missing (run `dvc repro`" in err[0]
    code, err = invoke(q2_embeddings, ["--data", tiny_data2, "--words", "w1,nonsense"], monkeypatch, capsys)
    assert code == 2 and err == ["error: params.yaml q2.embeddings.words = 'w1,nonsense': "
                                 "not in the vocabulary: nonsense"]


def test_top_table_lists_the_most_probable_words_in_order():
    words = ("a", "b", "c", "d", "e")
    probs = np.array([[0.1, 0.5, 0.05, 0.3, 0.05], [0.6, 0.1, 0.1, 0.15, 0.05]])
    x, d = np.array([[0, 1, 2], [3, 3, 4]]), np.array([3, 2])
    table = q2_predict.top_table(np.array([7, 9]), x, d, probs, words, 3)
    first = table[table["test_row"] == 7]
    assert list(first["word"]) == ["b", "d", "a"] and list(first["rank"]) == [1, 2, 3]
    np.testing.assert_allclose(first["probability"], [0.5, 0.3, 0.1])
    assert list(first["is_true"]) == [False, True, False] and first["context"].iloc[0] == "a b c"
    second = table[table["test_row"] == 9]
    assert list(second["word"]) == ["a", "d", "b"] and not second["is_true"].any()
    md = q2_predict.top_markdown(table, probs, d)
    assert "| 2 | **d** | 0.3000 |" in md and "true: **c**, rank 3" in md


def test_probability_table_ranks_every_word():
    probs = np.array([[0.2, 0.5, 0.3]])
    table = q2_predict.probability_table(np.array([0]), np.array([[0, 1, 2]]), np.array([2]), probs, ("a", "b", "c"))
    assert list(table["rank"]) == [3, 1, 2] and len(table) == 3


def test_cosine_neighbours_and_pca_by_hand():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    idx, sims = q2_embeddings.cosine_neighbours(emb, 0, 3)
    np.testing.assert_array_equal(idx, [1, 2, 3])
    np.testing.assert_allclose(sims, [0.9 / np.hypot(0.9, 0.1), 0.0, -1.0])
    coords, explained = q2_embeddings.pca_2d(emb)
    assert coords.shape == (4, 2) and explained.sum() == pytest.approx(1.0)


def test_tiny_end_to_end(tmp_path, tiny_data2, monkeypatch, capsys):
    code, err = invoke(q2_train, train_args(tmp_path, tiny_data2, patience=2), monkeypatch, capsys)
    assert code == 0
    assert sum("q2_train tiny epoch" in line for line in err) >= 1  # one progress line per epoch
    result = json.loads((tmp_path / "results" / "tiny.json").read_text())
    for key in ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy", "best_epoch",
                "stopped_epoch", "stop_reason", "train_seconds"):
        assert key in result
    curve = pd.read_csv(tmp_path / "plots" / "tiny_curve.csv")
    assert len(curve) == result["stopped_epoch"] and list(curve.columns) == q2_train.CURVE_COLUMNS
    assert result["val_cross_entropy"] == pytest.approx(curve["val_cross_entropy"].min(), rel=1e-5)
    assert (tmp_path / "plots" / "tiny_curve.png").stat().st_size > 0
    model, params = load_network(tmp_path / "artifacts" / "tiny.npz")
    assert (model.dim, model.hidden) == (4, 8)

    params_file = tmp_path / "params.yaml"
    params_file.write_text("q2:\n  sizes:\n    tiny: {dim: 4, hidden: 8}\n")
    code, _ = invoke(q2_summary, ["--params-file", params_file, "--results", tmp_path / "results", "--plots",
                                  tmp_path / "plots", "--metrics", tmp_path / "q2.json", "--figure",
                                  tmp_path / "plots" / "val.png"], monkeypatch, capsys)
    assert code == 0
    metrics = json.loads((tmp_path / "q2.json").read_text())
    assert metrics["tiny.val_cross_entropy"] == result["val_cross_entropy"]

    code, _ = invoke(q2_predict, ["--data", tiny_data2, "--network", "tiny", "--count", 3, "--artifacts",
                                  tmp_path / "artifacts", "--results", tmp_path / "results", "--figure",
                                  tmp_path / "plots" / "top10.png"], monkeypatch, capsys)
    assert code == 0
    top = pd.read_csv(tmp_path / "results" / "top10.csv")
    assert len(top) == 30 and top.groupby("test_row")["probability"].apply(lambda p: p.is_monotonic_decreasing).all()
    probs = pd.read_csv(tmp_path / "results" / "predictions_probs.csv")
    assert len(probs) == 3 * 250
    np.testing.assert_allclose(probs.groupby("test_row")["probability"].sum(), 1.0, rtol=1e-5)


def test_summary_requires_sizes_and_results(tmp_path, monkeypatch, capsys):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("q2:\n  lr: 0.1\n")
    code, err = invoke(q2_summary, ["--params-file", params_file], monkeypatch, capsys)
    assert code == 2 and err[0].startswith("error: params.yaml q2.sizes = None")
    params_file.write_text("q2:\n  sizes:\n    d8_p64: {dim: 8, hidden: 64}\n")
    code, err = invoke(q2_summary, ["--params-file", params_file, "--results", tmp_path], monkeypatch, capsys)
    assert code == 2 and "d8_p64.json: missing" in err[0]
