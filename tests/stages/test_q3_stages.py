"""Q3 stages: stratified split, confusion matrix, the evaluate command, the compare table, params checks."""

import json
import os

import h5py
import numpy as np
import pandas as pd
import pytest

from models.sequence_classifier import RecurrentClassifier
from pipeline.common import paths
from pipeline.common.artifact import load_model
from pipeline.common.errors import UserError
from pipeline.common.seeds import seed_folder
from pipeline.q2.network import load_network
from pipeline.q3 import compare, evaluate, evaluation, train
from pipeline.q3.params import parse_head
from tests.conftest import Project, run_stage, write_h5

SEEDS = Project.TINY["q3.seeds"]


def models(**changes) -> dict:
    """A fresh q3.models: gru with `changes`, then rnn (Project.set inside q3.models would edit Project.TINY)."""
    tiny = Project.TINY["q3.models"]
    return {"gru": {**tiny["gru"], **changes}, "rnn": dict(tiny["rnn"])}


def test_stratified_split_keeps_class_proportions_without_overlap():
    y = np.repeat(np.arange(6), [500, 400, 300, 200, 100, 50])  # class-contiguous blocks, like data3
    train_rows, val = evaluation.stratified_split(y, 0.1, np.random.default_rng(0))
    assert len(np.intersect1d(train_rows, val)) == 0
    assert len(train_rows) + len(val) == len(y)
    np.testing.assert_array_equal(np.bincount(y[val]), [50, 40, 30, 20, 10, 5])
    again, _ = evaluation.stratified_split(y, 0.1, np.random.default_rng(0))
    other, _ = evaluation.stratified_split(y, 0.1, np.random.default_rng(1))
    np.testing.assert_array_equal(train_rows, again)
    assert not np.array_equal(train_rows, other)
    assert not np.array_equal(val[:50], np.arange(50))  # shuffled within the class, not its first rows


def test_confusion_matrix_and_precision_recall_by_hand():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 1])
    counts = evaluation.confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [1, 2, 0], [0, 1, 0]])
    precision, recall = evaluation.precision_recall(counts)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 4, 0.0])  # class 2 never predicted: 0
    np.testing.assert_allclose(recall, [1 / 2, 2 / 3, 0.0])


def test_parse_head():
    assert parse_head("64") == (64,)
    assert parse_head("64,32") == (64, 32)
    assert parse_head("none") == ()
    with pytest.raises(ValueError):
        parse_head("64,-1")


def test_standardiser_uses_given_statistics():
    x = np.random.default_rng(0).normal(5.0, 3.0, size=(40, 10, 3))
    scaler = evaluation.Standardiser.fit(x, enabled=True)
    z = scaler(x, np.float64)
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1, atol=1e-12)
    off = evaluation.Standardiser.fit(x, enabled=False)
    np.testing.assert_array_equal(off(x, np.float64), x)


@pytest.fixture
def tiny_model_and_data(tmp_path):
    """A tiny GRU saved as a q3 artifact and a data3-layout file with one-hot labels."""
    rng = np.random.default_rng(0)
    model = RecurrentClassifier("gru", n_inputs=3, hidden=5, head=(4,), n_classes=6, recurrent_init="orthogonal",
                                recurrent_gain=0.9)
    params = model.init_params(rng, np.float32)
    scaler = evaluation.Standardiser(np.array([0.1, -0.2, 0.3]), np.array([2.0, 1.0, 0.5]))
    artifact = tmp_path / "gru.npz"
    evaluation.save_artifact(artifact, model, params, scaler)
    data = tmp_path / "tiny.h5"
    x_test = rng.standard_normal((12, 7, 3))
    y_test = rng.integers(0, 6, 12)
    with h5py.File(data, "w") as h5:
        h5["trX"] = rng.standard_normal((6, 7, 3))
        h5["trY"] = np.eye(6)[np.arange(6)]
        h5["tstX"] = x_test
        h5["tstY"] = np.eye(6)[y_test]
    return model, params, scaler, artifact, data, x_test, y_test


def test_artifact_round_trip(tiny_model_and_data):
    model, params, scaler, artifact, *_ = tiny_model_and_data
    loaded, loaded_params, loaded_scaler = evaluation.load_artifact(artifact)
    assert (loaded.cell, loaded.hidden, loaded.head.hidden) == ("gru", 5, (4,))
    assert (loaded.recurrent_init, loaded.recurrent_gain) == ("orthogonal", 0.9)
    for name in params:
        np.testing.assert_array_equal(loaded_params[name], params[name])
    np.testing.assert_array_equal(loaded_scaler.std, scaler.std)
    config, _ = load_model(artifact, "recurrent_classifier")  # the one model format of every network
    assert config["cell"] == "gru"
    with pytest.raises(UserError, match="holds a 'recurrent_classifier' model, expected 'trigram_lm'"):
        load_network(artifact)


def test_evaluate_command_on_a_tiny_file(tiny_model_and_data, tmp_path):
    model, params, scaler, artifact, data, x_test, y_test = tiny_model_and_data
    out = tmp_path / "cm.csv"
    proc = run_stage("pipeline.q3.evaluate", ["--artifact", artifact, "--data", data, "--confusion", out])
    assert proc.returncode == 0, proc.stderr
    predicted = model.predict(params, scaler(x_test)).argmax(axis=1)
    accuracy = np.mean(predicted == y_test)
    assert f"accuracy {accuracy:.4f}" in proc.stdout
    rows = out.read_text().strip().splitlines()
    assert rows[0].startswith("true,pred_downstairs")
    counts = np.array([[int(v) for v in row.split(",")[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(counts, evaluation.confusion_matrix(y_test, predicted, 6))


def test_evaluate_command_reports_a_missing_model(project, tmp_path, tiny_model_and_data, monkeypatch, capsys):
    *_, data, _, _ = tiny_model_and_data
    code, err = project.run(evaluate, "--artifact", tmp_path / "nope.npz", "--data", data, monkeypatch=monkeypatch,
                            capsys=capsys)
    assert code == 2 and err == [f"error: {tmp_path / 'nope.npz'}: missing (run `dvc repro` to produce it)"]
    code, err = project.run(evaluate, "--model", "gru", "--data", data, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == [f"error: {paths.Q3_TRAIN_ARTIFACTS / 'gru'}: no trained model (seed*/model.npz); "
                                 "run `dvc repro q3_train@gru`"]


def test_train_then_evaluate_by_model_name_scores_every_seed(project, monkeypatch, capsys):
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    result = json.loads((paths.Q3_TRAIN_RESULTS / "gru" / paths.RESULT).read_text())
    assert result["model"] == "gru" and result["seeds"] == SEEDS
    assert [row["stopped_epoch"] for row in result["per_seed"]] == [2, 2]
    for seed in SEEDS:
        curve = (paths.Q3_TRAIN_PLOTS / "gru" / seed_folder(seed) / paths.CURVE).read_text().splitlines()
        assert curve[0] == "epoch,lr,train_loss,train_accuracy,train_error,val_loss,val_accuracy,val_error"
        assert len(curve) == 1 + 2
    log = json.loads((paths.LOGS / "q3_train@gru.json").read_text())
    assert log["stage"] == "q3_train@gru" and log["train_seconds"] >= 0 and list(log["seeds"]) == ["0", "1"]
    for run in log["seeds"].values():
        assert run["train_seconds"] >= 0 and len(run["epoch_seconds"]) == 2
        assert all(seconds > 0 for seconds in run["epoch_seconds"])
    assert not any((project.root / ".staging").glob("*"))

    proc = run_stage("pipeline.q3.evaluate", ["--model", "gru", "--data", "data/raw/data3.h5"], cwd=project.root)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(SEEDS) + 1, lines
    accuracies = [row["test_accuracy"] for row in result["per_seed"]]
    for seed, line, accuracy in zip(SEEDS, lines, accuracies, strict=False):
        assert line.startswith(f"{paths.Q3_TRAIN_ARTIFACTS / 'gru' / seed_folder(seed) / paths.MODEL} on "
                               f"data/raw/data3.h5 (test, 12 sequences): accuracy {accuracy:.4f}, "), line
    spread = result["test_accuracy"]
    assert lines[-1] == (f"gru over 2 seeds: accuracy {spread['mean']:.4f} +- {spread['std']:.4f} "
                         f"(min {spread['min']:.4f}, max {spread['max']:.4f})")

    cm = project.root / "cm.csv"
    code, err = project.run(evaluate, "--model", "gru", "--data", "data/raw/data3.h5", "--confusion", cm,
                            monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == ["error: --confusion needs one model: give --artifact "
                                 "artifacts/q3/train/<model>/seed<k>/model.npz"]
    assert not cm.exists()
    code, err = project.run(evaluate, "--artifact", paths.Q3_TRAIN_ARTIFACTS / "gru" / "seed1" / paths.MODEL,
                            "--data", "data/raw/data3.h5", "--confusion", cm, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert cm.read_text() == (paths.Q3_TRAIN_RESULTS / "gru" / "seed1" / "confusion_test.csv").read_text()


def test_train_writes_every_seed_and_their_summary(project, monkeypatch, capsys):
    code, err = project.run(train, "rnn", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    folders = [seed_folder(seed) for seed in SEEDS]
    results, plots = paths.Q3_TRAIN_RESULTS / "rnn", paths.Q3_TRAIN_PLOTS / "rnn"
    assert project.files("artifacts") == {str(paths.Q3_TRAIN_ARTIFACTS / "rnn" / f / paths.MODEL) for f in folders}
    assert project.files("results") == {str(results / paths.RESULT), *(
        str(results / f / name) for f in folders for name in (paths.RESULT, "confusion_train.csv",
                                                               "confusion_test.csv"))}
    assert project.files("plots") == {*(str(plots / name) for name in ("curve.png", "confusion_train.png",
                                                                       "confusion_test.png")),
                                      *(str(plots / f / paths.CURVE) for f in folders)}
    runs = [json.loads((results / f / paths.RESULT).read_text()) for f in folders]
    assert [run["seed"] for run in runs] == SEEDS and all(run["model"] == "rnn" for run in runs)
    summary = json.loads((results / paths.RESULT).read_text())
    assert summary["model"] == "rnn" and summary["seeds"] == SEEDS and summary["median_seed"] in SEEDS
    for key in ("test_accuracy", "test_cross_entropy", "val_accuracy", "val_cross_entropy"):
        per_seed = [run[key] for run in runs]
        assert summary[key]["mean"] == pytest.approx(np.mean(per_seed), abs=1e-12), key
        assert (summary[key]["min"], summary[key]["max"]) == (min(per_seed), max(per_seed)), key
        assert summary[key]["std"] == pytest.approx(np.std(per_seed, ddof=1), abs=1e-12), key
        assert [row[key] for row in summary["per_seed"]] == per_seed, key
    assert [row["seed"] for row in summary["per_seed"]] == SEEDS
    assert summary["parameters"] == runs[0]["parameters"] and summary["recordings"] == runs[0]["recordings"]
    assert summary["val_windows"] == [run["val_windows"] for run in runs]
    assert summary["val_overlapping_train"] == 0  # the split is by whole recordings, whatever the seed
    for seed, run in zip(SEEDS, runs, strict=True):  # each seed's matrices hold its own scores
        test = pd.read_csv(results / seed_folder(seed) / "confusion_test.csv").drop(columns="true").to_numpy()
        assert test.sum() == 12 and np.trace(test) / 12 == pytest.approx(run["test_accuracy"])
    model, params, _ = evaluation.load_artifact(paths.Q3_TRAIN_ARTIFACTS / "rnn" / "seed0" / paths.MODEL)
    _, other, _ = evaluation.load_artifact(paths.Q3_TRAIN_ARTIFACTS / "rnn" / "seed1" / paths.MODEL)
    assert model.cell == "rnn" and any(not np.array_equal(params[k], other[k]) for k in params)


def test_train_gives_byte_identical_summaries_on_one_or_two_worker_processes(project, monkeypatch, capsys):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})  # two cores, whatever runs the test
    summaries = []
    for workers in ("1", "2"):
        monkeypatch.setenv("EEE443_JOBS", workers)
        code, err = project.run(train, "lstm", monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, err
        summaries.append((paths.Q3_TRAIN_RESULTS / "lstm" / paths.RESULT).read_bytes())
    assert summaries[0] == summaries[1]


def test_augmentation_changes_the_training_but_not_the_split(project, monkeypatch, capsys):
    outputs = []
    for augment in ({"rotation": 0, "scale": 0, "jitter": 0}, {"rotation": 30, "scale": 0.2, "jitter": 0.1}):
        project.set("q3.models", {"gru": {**Project.TINY["q3.models"]["gru"], **augment}})
        code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, err
        scalers = [evaluation.load_artifact(paths.Q3_TRAIN_ARTIFACTS / "gru" / seed_folder(s) / paths.MODEL)[2]
                   for s in SEEDS]
        outputs.append((json.loads((paths.Q3_TRAIN_RESULTS / "gru" / paths.RESULT).read_text()), scalers))
    (plain, plain_scalers), (augmented, augmented_scalers) = outputs
    for a, b in zip(plain_scalers, augmented_scalers, strict=True):  # the same training rows per seed ...
        np.testing.assert_array_equal(a.mean, b.mean)
    assert plain["val_windows"] == augmented["val_windows"]
    assert plain["per_seed"] != augmented["per_seed"]  # ... trained on other (transformed) windows


def test_bad_params_exit_2_naming_each_key(project, monkeypatch, capsys):
    project.set("q3.models", models(lr=-0.1, head="64,x", recurrent_init="zeros"))
    project.set("q3.val_fraction", 1.5).set("q3.momentum", 1).set("q3.standardise", "maybe")
    before = project.files()
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    for key in ("q3.models.gru.lr", "q3.models.gru.head", "q3.val_fraction", "q3.momentum", "q3.standardise",
                "q3.models.gru.recurrent_init"):
        assert sum(line.startswith(f"error: params.yaml {key} = ") for line in err) == 1, (key, err)
    assert len(err) == 6
    assert project.files() == before  # nothing written


def test_a_class_with_a_single_training_window_is_one_line_naming_it(project, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), [10, 10, 1, 10, 10, 19])  # one 'sitting' window: none left to validate on
    write_h5(project.root / "data/raw/data3.h5", trX=rng.standard_normal((60, 12, 3)), trY=np.eye(6)[labels],
             tstX=rng.standard_normal((12, 12, 3)), tstY=np.eye(6)[np.repeat(np.arange(6), 2)])
    before = project.files()
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert err == ["error: data/raw/data3.h5: trY has a single window of class 'sitting' (1); every class needs at "
                   "least 2 to hold one out for validation"]
    assert project.files() == before


def test_compare_builds_metrics_and_table_from_params_models(project, monkeypatch, capsys):
    project.set("q3.models", models())  # gru then rnn: the table keeps this order
    for i, model in enumerate(("gru", "rnn", "lstm")):  # lstm is present but not in q3.models: ignored
        per_seed = [{"seed": seed, "test_accuracy": 0.9 - 0.1 * i + d, "test_cross_entropy": 0.3 + i,
                     "val_accuracy": 0.95 - i / 100, "val_cross_entropy": 0.2, "best_epoch": 10 + i + seed,
                     "stopped_epoch": 15 + i} for seed, d in ((0, -0.05), (1, 0.05))]
        summary = {"model": model, "seeds": [0, 1], "median_seed": 1, "per_seed": per_seed,
                   **{key: {"mean": float(np.mean([r[key] for r in per_seed])), "std": 0.01 * (i + 1),
                            "min": min(r[key] for r in per_seed), "max": max(r[key] for r in per_seed)}
                      for key in ("test_accuracy", "test_cross_entropy", "val_accuracy", "val_cross_entropy")},
                   "parameters": 1000 + i, "recordings": 12, "val_windows": [6, 6], "val_overlapping_train": i}
        (paths.Q3_TRAIN_RESULTS / model).mkdir(parents=True)
        (paths.Q3_TRAIN_RESULTS / model / paths.RESULT).write_text(json.dumps(summary))
        (paths.Q3_TRAIN_PLOTS / model / "seed1").mkdir(parents=True)  # the median seed's curve is drawn
        (paths.Q3_TRAIN_PLOTS / model / "seed1" / paths.CURVE).write_text("epoch,val_error\n1,0.5\n2,0.3\n")
    code, err = project.run(compare, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    metrics = json.loads(paths.Q3_METRICS.read_text())
    assert list(metrics) == ["gru", "rnn", "split"]  # headline numbers only, one object per model
    assert metrics["gru"] == pytest.approx({"test_accuracy": 0.9, "test_accuracy_std": 0.01,
                                            "val_accuracy": 0.95, "val_cross_entropy": 0.2})
    assert metrics["rnn"] == pytest.approx({"test_accuracy": 0.8, "test_accuracy_std": 0.02,
                                            "val_accuracy": 0.94, "val_cross_entropy": 0.2})
    assert metrics["split"] == {"val_windows_overlapping_train": 1}  # the largest over the models compared
    table = pd.read_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv")
    assert list(table.columns) == compare.TABLE_COLUMNS
    assert list(table.columns) == ["model", "test_accuracy", "test_accuracy_std", "test_accuracy_min",
                                   "test_accuracy_max", "val_accuracy", "val_cross_entropy", "test_cross_entropy",
                                   "best_epochs", "parameters"]
    assert list(table["model"]) == ["gru", "rnn"] and list(table["parameters"]) == [1000, 1001]
    assert list(table["best_epochs"]) == ["10 11", "11 12"]  # kept epoch of each seed, in seed order
    assert table.loc[1, "test_accuracy_min"] == pytest.approx(0.75)
    assert "| gru |" in (paths.Q3_COMPARE_RESULTS / "comparison.md").read_text()
    assert (paths.Q3_COMPARE_PLOTS / "comparison.png").stat().st_size > 0
    assert not any((project.root / ".staging").glob("*"))


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_model_file_is_one_line_naming_it(tiny_model_and_data, project, keep, monkeypatch, capsys):
    *_, artifact, data, _, _ = tiny_model_and_data
    content = artifact.read_bytes()
    artifact.write_bytes(content[: int(keep * len(content))])
    with pytest.raises(UserError) as err:
        evaluation.load_artifact(artifact)
    assert str(err.value).startswith(f"{artifact}: not a readable .npz file (") and "\n" not in str(err.value)
    code, lines = project.run(evaluate, "--artifact", artifact, "--data", data, monkeypatch=monkeypatch,
                              capsys=capsys)  # any other exception would escape and fail the test
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {artifact}: not a readable .npz")


def test_compare_stops_on_a_damaged_summary_with_one_line(project, monkeypatch, capsys):
    project.set("q3.models", {"gru": models()["gru"]})
    summary = paths.Q3_TRAIN_RESULTS / "gru" / paths.RESULT
    summary.parent.mkdir(parents=True)
    summary.write_text('{"test_accuracy": 0.9')  # cut short
    code, err = project.run(compare, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert err == [f"error: {summary}: not valid JSON (Expecting ',' delimiter: line 1 column 22 (char 21)); "
                   "run `dvc repro` to rewrite it"]
    assert not paths.Q3_METRICS.exists()
