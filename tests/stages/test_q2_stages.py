"""Q2 stages: params checks, divergence and memory limits, the top-10 table, nearest words, a tiny end-to-end run."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from pipeline.common import paths, seeds
from pipeline.q2 import embeddings, network, predict, summary, train
from tests.conftest import Project

NET = "d4_p8"  # the one q2.sizes entry of the project fixture
SEEDS = Project.TINY["q2.seeds"]
LOG = paths.LOGS / f"q2_train@{NET}.json"  # the run's wall-clock times (provenance.write_log)


def sizes(**changes) -> dict:
    """A fresh q2.sizes with NET changed (Project.set on a key inside q2.sizes would edit Project.TINY itself)."""
    return {NET: {**Project.TINY["q2.sizes"][NET], **changes}}


def test_bad_training_params_exit_2_with_one_line_per_key(project, monkeypatch, capsys):
    for key, value in {"q2.momentum": 1.0, "q2.patience": 0, "q2.sizes": sizes(dim=0, lr=-0.1),
                       "q2.schedule": "linear", "q2.dtype": "float16"}.items():
        project.set(key, value)
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    expected = [f"q2.sizes.{NET}.lr = -0.1", "q2.momentum = 1.0", "q2.patience = 0", f"q2.sizes.{NET}.dim = 0",
                "q2.schedule = 'linear'", "q2.dtype = 'float16'"]
    assert len(err) == len(expected)
    for key in expected:
        assert sum(line.startswith(f"error: params.yaml {key}: ") for line in err) == 1, key
    assert not (project.root / "results").exists()


def test_unknown_network_name_is_one_line(project, monkeypatch, capsys):
    code, err = project.run(train, "d9_p9", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: params.yaml q2.sizes.d9_p9 = None: missing (add the entry to params.yaml)"]


def test_cosine_needs_lr_min_below_lr(project, monkeypatch, capsys):
    project.set("q2.schedule", "cosine").set("q2.sizes", sizes(lr=0.1)).set("q2.lr_min", 0.2)
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == [f"error: params.yaml q2.lr_min = 0.2 must be < q2.sizes.{NET}.lr = 0.1"]


def test_divergence_is_one_line_and_leaves_the_earlier_outputs_byte_identical(project, monkeypatch, capsys):
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    project.set("q2.sizes", sizes(lr=1e6))  # the loss grows to ~8e4, finite: stopped by MAX_LOSS_GROWTH, not by NaN
    before = {f: (project.root / f).read_bytes() for f in project.files()}
    assert str(paths.Q2_TRAIN_RESULTS / NET / paths.RESULT) in before and str(LOG) in before
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and len(err) == 1, err
    assert re.match(rf"error: q2_train {NET} seed [01]: training diverged at epoch 1 \(loss ", err[0]), err[0]
    assert f"lower params.yaml q2.sizes.{NET}.lr (now 1000000.0)" in err[0]
    loss = float(err[0].split("(loss ")[1].split(")")[0])
    assert math.isfinite(loss) and loss > 100 * math.log(250)
    assert {f: (project.root / f).read_bytes() for f in project.files()} == before


def test_an_unwritable_log_does_not_fail_a_run_whose_outputs_are_in_place(project, monkeypatch, capsys):
    (project.root / "logs").write_text("a file where the logs folder should be")
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert (paths.Q2_TRAIN_RESULTS / NET / paths.RESULT).exists()  # the outputs were replaced ...
    assert code == 0, err  # ... so the run must not report failure and "earlier outputs are unchanged"
    assert [line for line in err if line.startswith("warning: logs/")] == [
        f"warning: logs/q2_train@{NET}.json: cannot be written (File exists); the outputs are in place, only "
        "this run's times are lost"]


def test_a_network_too_big_for_the_memory_is_one_line_before_any_output(project, monkeypatch, capsys):
    project.set("q2.sizes", sizes(hidden=1_000_000_000))
    before = project.files()
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: params.yaml q2.sizes.{NET} = {{'dim': 4, 'hidden': 1000000000}}: "
                             "the run would need about ")
    assert err[0].endswith("; lower it")
    assert project.files() == before


def test_bad_predict_and_embedding_params(project, monkeypatch, capsys):
    project.set("q2.predict.count", 0).set("q2.predict.top", -1)
    code, err = project.run(predict, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: params.yaml q2.predict.count = 0: must be a positive integer",
                                 "error: params.yaml q2.predict.top = -1: must be a positive integer"]
    project.set("q2.predict.count", 3).set("q2.predict.top", 5)
    code, err = project.run(predict, monkeypatch=monkeypatch, capsys=capsys)  # NET not trained yet
    assert code == 2 and len(err) == 1
    assert f"{paths.Q2_TRAIN_RESULTS / NET / paths.RESULT}: missing (run `dvc repro`" in err[0]
    project.set("q2.embeddings.words", "w1,nonsense")
    code, err = project.run(embeddings, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: params.yaml q2.embeddings.words = 'w1,nonsense': "
                                 "not in the vocabulary: nonsense"]


def test_top_table_lists_the_most_probable_words_in_order():
    words = ("a", "b", "c", "d", "e")
    probs = np.array([[0.1, 0.5, 0.05, 0.3, 0.05], [0.6, 0.1, 0.1, 0.15, 0.05]])
    x, d = np.array([[0, 1, 2], [3, 3, 4]]), np.array([3, 2])
    table = predict.top_table(np.array([7, 9]), x, d, probs, words, 3)
    first = table[table["test_row"] == 7]
    assert list(first["word"]) == ["b", "d", "a"] and list(first["rank"]) == [1, 2, 3]
    np.testing.assert_allclose(first["probability"], [0.5, 0.3, 0.1])
    assert list(first["is_true"]) == [False, True, False] and first["context"].iloc[0] == "a b c"
    second = table[table["test_row"] == 9]
    assert list(second["word"]) == ["a", "d", "b"] and not second["is_true"].any()
    md = predict.top_markdown(table, probs, d)
    assert "| 2 | **d** | 0.3000 |" in md and "true: **c**, rank 3" in md


def test_probability_table_ranks_every_word():
    probs = np.array([[0.2, 0.5, 0.3]])
    table = predict.probability_table(np.array([0]), np.array([[0, 1, 2]]), np.array([2]), probs, ("a", "b", "c"))
    assert list(table["rank"]) == [3, 1, 2] and len(table) == 3


def test_cosine_neighbours_and_pca_by_hand():
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    idx, sims = embeddings.cosine_neighbours(emb, 0, 3)
    np.testing.assert_array_equal(idx, [1, 2, 3])
    np.testing.assert_allclose(sims, [0.9 / np.hypot(0.9, 0.1), 0.0, -1.0])
    coords, explained = embeddings.pca_2d(emb)
    assert coords.shape == (4, 2) and explained.sum() == pytest.approx(1.0)


def test_tiny_end_to_end(project, monkeypatch, capsys):
    project.set("q2.sizes", sizes(epochs=3)).set("q2.patience", 2)
    monkeypatch.setenv("EEE443_JOBS", "1")  # in this process, so that capsys sees every progress line
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    for seed in SEEDS:  # one progress line per epoch and seed
        assert any(line.startswith(f"q2_train {NET} seed {seed} epoch 1/3: ") for line in err), err
    folders = [seeds.seed_folder(seed) for seed in SEEDS]
    assert project.files("artifacts") == {str(network.artifact_path(NET, seed)) for seed in SEEDS}
    assert project.files("results") == {str(paths.Q2_TRAIN_RESULTS / NET / paths.RESULT),
                                        *(str(paths.Q2_TRAIN_RESULTS / NET / f / paths.RESULT) for f in folders)}
    assert project.files("plots") == {str(paths.Q2_TRAIN_PLOTS / NET / name) for name in ("curve.png", paths.CURVES)}
    curves = pd.read_csv(paths.Q2_TRAIN_PLOTS / NET / paths.CURVES)  # every seed in one long table
    assert list(curves.columns) == ["epoch", "seed", "lr", "train_cross_entropy", "train_accuracy",
                                    "val_cross_entropy", "val_accuracy"]  # no seconds
    assert list(curves["seed"].unique()) == SEEDS
    runs = [json.loads((paths.Q2_TRAIN_RESULTS / NET / f / paths.RESULT).read_text()) for f in folders]
    for seed, run in zip(SEEDS, runs, strict=True):
        assert run["seed"] == seed
        for key in ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy", "best_epoch",
                    "stopped_epoch", "stop_reason"):
            assert key in run
        assert run["parameters"] == 250 * 4 + 3 * 4 * 8 + 8 + 8 * 250 + 250  # R, W1, b1, W2, b2
        curve = seeds.one_seed(curves, seed)  # one row per epoch
        assert list(curve["epoch"]) == list(range(1, run["stopped_epoch"] + 1))
        assert run["val_cross_entropy"] == pytest.approx(curve["val_cross_entropy"].min(), rel=1e-5)
    result = json.loads((paths.Q2_TRAIN_RESULTS / NET / paths.RESULT).read_text())
    assert result["seeds"] == SEEDS and (result["dim"], result["hidden"]) == (4, 8)
    assert result["parameters"] == runs[0]["parameters"]
    for key in ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy"):
        assert result[key] == seeds.spread([run[key] for run in runs]), key
    assert result["per_seed"] == [{key: run[key] for key in ("seed", "val_cross_entropy", "val_accuracy",
                                                             "test_cross_entropy", "test_accuracy", "best_epoch",
                                                             "stopped_epoch")} for run in runs]
    ces = [run["val_cross_entropy"] for run in runs]
    assert ces[0] != ces[1]  # the seeds trained differently
    assert result["median_seed"] == SEEDS[ces.index(min(ces))]  # of two, the lower one
    for summary_file in (result, *runs):
        assert not [key for key in summary_file if "seconds" in key]  # wall-clock times go to logs/ only
    log = json.loads(LOG.read_text())
    assert log["stage"] == f"q2_train@{NET}" and log["train_seconds"] >= 0 and "versions" in log["environment"]
    assert list(log["seeds"]) == [str(seed) for seed in SEEDS]
    for seed, run in zip(SEEDS, runs, strict=True):
        assert len(log["seeds"][str(seed)]["epoch_seconds"]) == run["stopped_epoch"]
    assert not any((project.root / ".staging").glob("*"))  # the staging copy is gone once swapped in
    assert (paths.Q2_TRAIN_PLOTS / NET / "curve.png").stat().st_size > 0
    path, median = network.median_network(NET)
    assert (path, median) == (network.artifact_path(NET, result["median_seed"]), result["median_seed"])
    model, params = network.load_network(path)
    assert (model.dim, model.hidden) == (4, 8)
    _, other = network.load_network(network.artifact_path(NET, next(s for s in SEEDS if s != median)))
    assert not np.array_equal(params["R"], other["R"])

    code, err = project.run(summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    metrics = json.loads(paths.Q2_METRICS.read_text())
    ce = result["val_cross_entropy"]
    assert metrics == {NET: {"val_cross_entropy": ce["mean"], "val_cross_entropy_std": ce["std"],
                             "test_cross_entropy": result["test_cross_entropy"]["mean"],
                             "test_cross_entropy_std": result["test_cross_entropy"]["std"],
                             "test_accuracy": result["test_accuracy"]["mean"],
                             "test_accuracy_std": result["test_accuracy"]["std"]}}
    assert (paths.Q2_SUMMARY_PLOTS / "validation_curves.png").stat().st_size > 0
    together = pd.read_csv(paths.Q2_SUMMARY_CURVES)  # every network and seed on one dvc plots chart
    assert list(together.columns) == ["epoch", "network", "seed", "val_cross_entropy"]
    assert set(together["network"]) == {NET} and len(together) == len(curves)
    assert together[["epoch", "seed", "val_cross_entropy"]].equals(curves[["epoch", "seed", "val_cross_entropy"]])

    code, err = project.run(predict, monkeypatch=monkeypatch, capsys=capsys)  # count 3, top 5
    assert code == 0, err
    top = pd.read_csv(paths.Q2_PREDICT_RESULTS / "top.csv")
    assert len(top) == 3 * 5 and top.groupby("test_row")["probability"].apply(lambda p: p.is_monotonic_decreasing).all()
    assert "true: **" in (paths.Q2_PREDICT_RESULTS / "top.md").read_text()
    probs = pd.read_csv(paths.Q2_PREDICT_RESULTS / "probabilities.csv")
    assert len(probs) == 3 * 250
    np.testing.assert_allclose(probs.groupby("test_row")["probability"].sum(), 1.0, rtol=1e-5)
    assert (paths.Q2_PREDICT_PLOTS / "top.png").stat().st_size > 0

    code, err = project.run(embeddings, monkeypatch=monkeypatch, capsys=capsys)  # words w1,w2, 3 neighbours
    assert code == 0, err
    nearest = pd.read_csv(paths.Q2_EMBEDDINGS_RESULTS / "nearest_words.csv")
    assert list(nearest["word"]) == ["w1"] * 3 + ["w2"] * 3 and list(nearest["rank"]) == [1, 2, 3] * 2
    first = nearest[nearest["word"] == "w1"]
    idx, sims = embeddings.cosine_neighbours(params["R"].astype(np.float64), 1, 3)  # the median seed's embeddings
    assert list(first["neighbour"]) == [f"w{i}" for i in idx]
    np.testing.assert_allclose(first["cosine"], sims, rtol=1e-5)
    assert "w1" in (paths.Q2_EMBEDDINGS_RESULTS / "nearest_words.md").read_text()
    assert (paths.Q2_EMBEDDINGS_PLOTS / "pca.png").stat().st_size > 0


def test_weight_decay_reaches_the_optimiser_and_shrinks_the_matrices(project, monkeypatch, capsys):
    norms = {}
    for decay in (0.0, 0.05):
        project.set("q2.sizes", sizes(epochs=2, weight_decay=decay))
        code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, err
        _, params = network.load_network(project.root / network.artifact_path(NET, SEEDS[0]))
        norms[decay] = {name: float(np.linalg.norm(params[name])) for name in ("R", "W1", "W2")}
    for name in ("R", "W1", "W2"):
        assert norms[0.05][name] < 0.9 * norms[0.0][name], (name, norms)


def test_predict_names_the_missing_model_of_the_median_seed(project, monkeypatch, capsys):
    code, err = project.run(train, NET, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    median = json.loads((paths.Q2_TRAIN_RESULTS / NET / paths.RESULT).read_text())["median_seed"]
    network.artifact_path(NET, median).unlink()
    code, err = project.run(predict, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == [f"error: {network.artifact_path(NET, median)}: missing (run `dvc repro` to "
                                 "produce it)"]


def test_summary_requires_sizes_and_results(project, monkeypatch, capsys):
    project.set("q2.sizes", None)
    code, err = project.run(summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err[0].startswith("error: params.yaml q2.sizes = None")
    project.set("q2.sizes", {"d8_p64": {"dim": 8, "hidden": 64, "epochs": 1, "lr": 0.5, "weight_decay": 0.0}})
    code, err = project.run(summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and f"{paths.Q2_TRAIN_RESULTS / 'd8_p64' / paths.RESULT}: missing" in err[0]
