"""Q3 stages: stratified split, confusion matrix, the evaluate command, the compare table and differences, entries
of any name, cell and depth (trained, compared and reported), params checks."""

import json
import os
from types import SimpleNamespace

import h5py
import numpy as np
import pandas as pd
import pytest

from models.sequence_classifier import RecurrentClassifier
from pipeline.common import paths
from pipeline.common.artifact import load_model
from pipeline.common.document import Bullets, Heading, Paragraph
from pipeline.common.errors import UserError
from pipeline.common.seeds import holm_adjusted, seed_folder
from pipeline.q2.network import load_network
from pipeline.q3 import baseline, compare, evaluate, evaluation, intervals, train
from pipeline.q3.params import parse_head
from pipeline.report.q3 import q3_section
from pipeline.report.sources import Sources, pct
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
    assert (loaded.cell, loaded.layers, loaded.hidden, loaded.head.hidden) == ("gru", 1, 5, (4,))
    assert (loaded.recurrent_init, loaded.recurrent_gain) == ("orthogonal", 0.9)
    for name in params:
        np.testing.assert_array_equal(loaded_params[name], params[name])
    np.testing.assert_array_equal(loaded_scaler.std, scaler.std)
    config, _ = load_model(artifact, "recurrent_classifier")  # the one model format of every network
    assert config["cell"] == "gru" and config["layers"] == 1
    with pytest.raises(UserError, match="holds a 'recurrent_classifier' model, expected 'trigram_lm'"):
        load_network(artifact)


@pytest.mark.slow  # starts the evaluate command as a process
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


@pytest.mark.slow  # starts the evaluate command as a process
def test_train_then_evaluate_by_model_name_scores_every_seed(project, monkeypatch, capsys):
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    result = json.loads((paths.Q3_TRAIN_RESULTS / "gru" / paths.RESULT).read_text())
    assert result["model"] == "gru" and result["seeds"] == SEEDS
    assert [row["stopped_epoch"] for row in result["per_seed"]] == [2, 2]
    curves = (paths.Q3_TRAIN_PLOTS / "gru" / paths.CURVES).read_text().splitlines()  # every seed, one row per epoch
    assert curves[0] == ("epoch,seed,lr,train_cross_entropy,train_accuracy,train_error,val_cross_entropy,"
                         "val_accuracy,val_error")
    assert [line.split(",")[:2] for line in curves[1:]] == [[str(e), str(s)] for s in SEEDS for e in (1, 2)]
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
                                                               "confusion_test.csv", paths.TEST_PREDICTIONS))}
    assert project.files("plots") == {str(plots / name) for name in ("curve.png", "confusion_train.png",
                                                                     "confusion_test.png", paths.CURVES)}
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
    assert summary["parameters"] == runs[0]["parameters"] and summary["trials"] == runs[0]["trials"]
    assert summary["val_windows"] == [run["val_windows"] for run in runs]
    assert summary["val_overlapping_train"] == 0  # the split is by whole trials, whatever the seed
    for seed, run in zip(SEEDS, runs, strict=True):  # each seed's matrices hold its own scores
        test = pd.read_csv(results / seed_folder(seed) / "confusion_test.csv").drop(columns="true").to_numpy()
        assert test.sum() == 12 and np.trace(test) / 12 == pytest.approx(run["test_accuracy"])
        predictions = pd.read_csv(results / seed_folder(seed) / paths.TEST_PREDICTIONS)
        assert list(predictions.columns) == ["trial", "fragment", "true", "predicted"]
        assert list(predictions["true"]) == list(np.repeat(np.arange(6), 2))  # every test window, in file order
        assert list(predictions["fragment"]) == list(range(12))  # random windows: each its own fragment
        assert list(predictions["trial"]) == list(range(12))  # and (random directions) its own trial
        assert np.mean(predictions["true"] == predictions["predicted"]) == pytest.approx(run["test_accuracy"])
        counts = evaluation.confusion_matrix(predictions["true"].to_numpy(), predictions["predicted"].to_numpy(), 6)
        np.testing.assert_array_equal(counts, test)  # the same predictions as the confusion matrix
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
    project.set("q3.models", models(lr=-0.1, head="64,x", recurrent_init="zeros", cell="transformer", layers=0))
    project.set("q3.val_fraction", 1.5).set("q3.momentum", 1).set("q3.standardise", "maybe")
    before = project.files()
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    for key in ("q3.models.gru.lr", "q3.models.gru.head", "q3.val_fraction", "q3.momentum", "q3.standardise",
                "q3.models.gru.recurrent_init", "q3.models.gru.cell", "q3.models.gru.layers"):
        assert sum(line.startswith(f"error: params.yaml {key} = ") for line in err) == 1, (key, err)
    assert "error: params.yaml q3.models.gru.cell = 'transformer': must be one of rnn, lstm, gru" in err
    assert len(err) == 8
    assert project.files() == before  # nothing written


@pytest.mark.parametrize("count", [1, 0], ids=["one window", "no window"])
@pytest.mark.parametrize("stage", [train, baseline], ids=["q3_train", "q3_baseline"])
def test_a_class_with_too_few_training_windows_is_one_line_naming_it(project, monkeypatch, capsys, count, stage):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), [10, 10, count, 10, 10, 20 - count])  # none left to validate 'sitting' on
    write_h5(project.root / "data/raw/data3.h5", trX=rng.standard_normal((60, 12, 3)), trY=np.eye(6)[labels],
             tstX=rng.standard_normal((12, 12, 3)), tstY=np.eye(6)[np.repeat(np.arange(6), 2)])
    before = project.files()
    code, err = project.run(stage, *(["gru"] if stage is train else []), monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert err == [f"error: data/raw/data3.h5: trY has too few windows of class 'sitting' ({count}); every class "
                   "needs at least 2 to hold one out for validation"]
    assert project.files() == before


TEST_TRIALS = np.repeat(np.arange(10), 2)  # 20 test windows cut from 10 trials
TEST_FRAGMENTS = np.arange(20)  # each window its own fragment
TEST_TRUE = np.repeat(np.arange(5), 4)


def fake_predictions(folder, right: dict[int, int]) -> None:
    """Every seed's test_predictions.csv in `folder`: the seed's model right on the first right[seed] windows."""
    for seed, count in right.items():
        predicted = np.where(np.arange(20) < count, TEST_TRUE, (TEST_TRUE + 1) % 6)
        (folder / seed_folder(seed)).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"trial": TEST_TRIALS, "fragment": TEST_FRAGMENTS, "true": TEST_TRUE,
                      "predicted": predicted}).to_csv(
            folder / seed_folder(seed) / paths.TEST_PREDICTIONS, index=False)


def fake_train_outputs(model: str, right: dict[int, int], i: int) -> None:
    """What q3_train@<model> writes that q3_compare reads, for test accuracies right[seed] / 20."""
    per_seed = [{"seed": seed, "test_accuracy": count / 20, "test_cross_entropy": 0.3 + i,
                 "val_accuracy": 0.95 - i / 100, "val_cross_entropy": 0.2, "best_epoch": 10 + i + seed,
                 "stopped_epoch": 15 + i} for seed, count in right.items()]
    summary = {"model": model, "seeds": list(right), "median_seed": 1, "per_seed": per_seed,
               **{key: {"mean": float(np.mean([r[key] for r in per_seed])), "std": 0.01 * (i + 1),
                        "min": min(r[key] for r in per_seed), "max": max(r[key] for r in per_seed)}
                  for key in ("test_accuracy", "test_cross_entropy", "val_accuracy", "val_cross_entropy")},
               "parameters": 1000 + i, "trials": 12, "val_windows": [6, 6], "val_overlapping_train": i}
    (paths.Q3_TRAIN_RESULTS / model).mkdir(parents=True)
    (paths.Q3_TRAIN_RESULTS / model / paths.RESULT).write_text(json.dumps(summary))
    fake_predictions(paths.Q3_TRAIN_RESULTS / model, right)
    (paths.Q3_TRAIN_PLOTS / model).mkdir(parents=True)  # every seed's curve (the median seed's is drawn)
    (paths.Q3_TRAIN_PLOTS / model / paths.CURVES).write_text(
        "epoch,seed,val_accuracy\n" + "".join(f"{e},{seed},0.{4 + e + i}\n" for seed in right for e in (1, 2)))


def fake_baseline_outputs(right: dict[int, int]) -> None:
    """What q3_baseline writes that q3_compare reads."""
    accuracies = [count / 20 for count in right.values()]
    paths.Q3_BASELINE_RESULTS.mkdir(parents=True)
    (paths.Q3_BASELINE_RESULTS / "summary_softmax.json").write_text(json.dumps(
        {"features": 36, "seeds": list(right), "test_accuracy": {"mean": float(np.mean(accuracies))}, "per_seed": []}))
    fake_predictions(paths.Q3_BASELINE_RESULTS, right)


def test_compare_builds_metrics_tables_and_differences_from_params_models(project, monkeypatch, capsys):
    project.set("q3.models", models())  # gru then rnn: the tables keep this order
    right = {"gru": {0: 17, 1: 19}, "rnn": {0: 15, 1: 17}, "lstm": {0: 20, 1: 20}}  # windows right per seed
    for i, model in enumerate(("gru", "rnn", "lstm")):  # lstm is present but not in q3.models: ignored
        fake_train_outputs(model, right[model], i)
    fake_baseline_outputs({0: 16, 1: 16})
    code, err = project.run(compare, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err

    predictions = {m: intervals.Predictions.from_frames(
        [pd.read_csv(folder / seed_folder(seed) / paths.TEST_PREDICTIONS) for seed in SEEDS])
        for m, folder in (("gru", paths.Q3_TRAIN_RESULTS / "gru"), ("rnn", paths.Q3_TRAIN_RESULTS / "rnn"),
                          ("baseline", paths.Q3_BASELINE_RESULTS))}
    weights = intervals.draw_weights(TEST_TRIALS)  # drawn over the test file's trials
    low_high = {m: intervals.interval(p, weights) for m, p in predictions.items()}
    metrics = json.loads(paths.Q3_METRICS.read_text())
    assert list(metrics) == ["gru", "rnn", "split"]  # headline numbers only, one object per model
    assert metrics["gru"] == pytest.approx({"test_accuracy": 0.9, "test_accuracy_std": 0.01,
                                            "test_accuracy_low": low_high["gru"][0],
                                            "test_accuracy_high": low_high["gru"][1],
                                            "val_accuracy": 0.95, "val_accuracy_std": 0.01,
                                            "val_cross_entropy": 0.2, "val_cross_entropy_std": 0.01})
    assert metrics["rnn"] == pytest.approx({"test_accuracy": 0.8, "test_accuracy_std": 0.02,
                                            "test_accuracy_low": low_high["rnn"][0],
                                            "test_accuracy_high": low_high["rnn"][1],
                                            "val_accuracy": 0.94, "val_accuracy_std": 0.02,
                                            "val_cross_entropy": 0.2, "val_cross_entropy_std": 0.02})
    for m in ("gru", "rnn"):
        assert metrics[m]["test_accuracy_low"] < metrics[m]["test_accuracy"] < metrics[m]["test_accuracy_high"]
    assert metrics["split"] == {"val_windows_overlapping_train": 1}  # the largest over the models compared
    baseline_interval = json.loads((paths.Q3_COMPARE_RESULTS / "baseline_interval.json").read_text())
    assert baseline_interval == pytest.approx(dict(zip(("low", "high"), low_high["baseline"], strict=True)))

    table = pd.read_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv")
    assert list(table.columns) == compare.TABLE_COLUMNS
    assert list(table.columns) == ["model", "cell", "layers", "augmented", "test_accuracy", "test_accuracy_std",
                                   "test_accuracy_low", "test_accuracy_high", "test_accuracy_min",
                                   "test_accuracy_max", "val_accuracy", "val_cross_entropy", "test_cross_entropy",
                                   "best_epochs", "parameters"]
    assert list(table["model"]) == ["gru", "rnn"] and list(table["parameters"]) == [1000, 1001]
    assert list(table["cell"]) == ["gru", "rnn"] and list(table["layers"]) == [1, 1]
    assert list(table["augmented"]) == [False, False]
    assert list(table["best_epochs"]) == ["10 11", "11 12"]  # kept epoch of each seed, in seed order
    assert table.loc[1, "test_accuracy_min"] == pytest.approx(0.75)
    assert table.loc[0, "test_accuracy_low"] == pytest.approx(low_high["gru"][0], abs=1e-6)

    differences = pd.read_csv(paths.Q3_COMPARE_RESULTS / "differences.csv", keep_default_na=False)
    assert list(differences.columns) == compare.DIFFERENCE_COLUMNS
    assert [tuple(r) for r in differences[["question", "aspect", "a", "b"]].itertuples(index=False)] == [
        ("cell", "", "gru", "rnn"), ("baseline", "", "gru", "baseline"), ("baseline", "", "rnn", "baseline")]
    for _, row in differences.iterrows():  # each row is pipeline.q3.intervals.difference of the two entries
        expected = intervals.difference(predictions[row["a"]], predictions[row["b"]], weights)
        assert row["difference"] == pytest.approx(expected["difference"], abs=1e-6)
        assert row["half_width"] == pytest.approx(expected["half_width"], rel=1e-5)
        assert row["p_value"] == pytest.approx(expected["p_value"], rel=1e-5, abs=1e-9)
    assert differences.loc[0, "difference"] == pytest.approx(0.1)  # gru 0.9 - rnn 0.8
    # one family: the Holm-adjusted p of each row, and a tie where that is >= 0.05
    expected_adjusted = holm_adjusted(differences["p_value"].tolist())
    assert differences["p_adjusted"].tolist() == pytest.approx(expected_adjusted, rel=1e-5)
    assert [str(t) for t in differences["tie"]] == [str(a >= 0.05) for a in expected_adjusted]
    assert all(a >= p for a, p in zip(differences["p_adjusted"], differences["p_value"], strict=True))
    by_fragment = pd.read_csv(paths.Q3_COMPARE_RESULTS / "intervals.csv")
    assert list(by_fragment["model"]) == ["gru", "rnn", "baseline"]
    assert by_fragment.loc[0, "low"] == pytest.approx(low_high["gru"][0], abs=1e-6)
    fragment_weights = intervals.draw_weights(TEST_FRAGMENTS)
    assert by_fragment.loc[0, "low_by_fragment"] == pytest.approx(
        intervals.interval(predictions["gru"], fragment_weights)[0], abs=1e-6)
    units = json.loads((paths.Q3_COMPARE_RESULTS / "units.json").read_text())
    assert units == {"test": {"windows": 20, "trials": {"units": 10, "single_window_units": 0,
                                                        "windows_per_unit_median": 2.0, "windows_per_unit_max": 2},
                              "fragments": {"units": 20, "single_window_units": 20, "windows_per_unit_median": 1.0,
                                            "windows_per_unit_max": 1}},
                     "train_trials": 12}
    markdown = (paths.Q3_COMPARE_RESULTS / "comparison.md").read_text()
    assert "| gru |" in markdown and "| cell |" in markdown and "lstm" not in markdown
    assert (paths.Q3_COMPARE_PLOTS / "comparison.png").stat().st_size > 0
    together = pd.read_csv(paths.Q3_COMPARE_CURVES)  # every entry of q3.models and seed on one dvc plots chart
    assert list(together.columns) == ["epoch", "model", "seed", "val_accuracy"]
    assert [tuple(r) for r in together[["model", "seed", "epoch"]].itertuples(index=False)] == [
        (m, seed, e) for m in ("gru", "rnn") for seed in SEEDS for e in (1, 2)]  # one row per epoch per seed
    assert not any((project.root / ".staging").glob("*"))


def test_compare_stops_on_missing_test_predictions_with_one_line(project, monkeypatch, capsys):
    project.set("q3.models", {"gru": models()["gru"]})
    fake_train_outputs("gru", {0: 17, 1: 19}, 0)
    fake_baseline_outputs({0: 16, 1: 16})
    missing = paths.Q3_TRAIN_RESULTS / "gru" / seed_folder(1) / paths.TEST_PREDICTIONS
    missing.unlink()  # a q3_train of before the predictions were written
    code, err = project.run(compare, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and err == [f"error: {missing}: missing (run `dvc repro` to produce it)"]
    assert not paths.Q3_METRICS.exists()


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


def test_memory_needed_grows_with_the_layers_and_the_gates_of_the_cell():
    def entry(**settings) -> SimpleNamespace:  # an entry of q3.models as train.memory_needed reads it
        return SimpleNamespace(**{**Project.TINY["q3.models"]["gru"], **settings})

    needed = {cell: train.memory_needed(150, 3, entry(cell=cell, hidden=128), 32) for cell in ("rnn", "gru", "lstm")}
    assert needed["rnn"] < needed["gru"] < needed["lstm"]  # 1, 3 and 4 gate blocks
    one, two = (train.memory_needed(150, 3, entry(layers=n, hidden=128), 32) for n in (1, 2))
    assert 1.9 * one < two < 2.5 * one  # the second layer reads 128 inputs, not 3: a bit more than twice


NEW_ENTRIES = {  # a name of one's own, a cell, and its size: what the report must say of it, from its settings
    "gru_small": ({"hidden": 3}, "GRU, 3 units"),
    "gru_deep": ({"layers": 2}, "GRU, 2 layers of 4 units"),
}


@pytest.mark.parametrize("name", list(NEW_ENTRIES))
def test_a_new_entry_of_any_name_is_trained_compared_and_reported(name, project, monkeypatch, capsys):
    changes, described = NEW_ENTRIES[name]
    gru = Project.TINY["q3.models"]["gru"]
    project.set("q3.models", {"gru": dict(gru), name: {**gru, **changes}})
    for module, args in ((train, ["gru"]), (train, [name]), (baseline, []), (compare, [])):
        code, err = project.run(module, *args, monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, (module.__name__, args, err)

    result = json.loads((paths.Q3_TRAIN_RESULTS / name / paths.RESULT).read_text())
    assert result["model"] == name and result["seeds"] == SEEDS
    model, _, _ = evaluation.load_artifact(paths.Q3_TRAIN_ARTIFACTS / name / "seed0" / paths.MODEL)
    assert (model.cell, model.layers, model.hidden) == ("gru", changes.get("layers", 1), changes.get("hidden", 4))
    for seed in SEEDS:
        assert (paths.Q3_TRAIN_RESULTS / name / seed_folder(seed) / paths.TEST_PREDICTIONS).is_file()
        assert (paths.Q3_BASELINE_RESULTS / seed_folder(seed) / paths.TEST_PREDICTIONS).is_file()
    metrics = json.loads(paths.Q3_METRICS.read_text())
    assert list(metrics) == ["gru", name, "split"]
    assert metrics[name]["test_accuracy"] == pytest.approx(result["test_accuracy"]["mean"])
    assert metrics[name]["test_accuracy_low"] <= metrics[name]["test_accuracy_high"]
    table = pd.read_csv(paths.Q3_COMPARE_RESULTS / "comparison.csv")
    row = table.set_index("model").loc[name]
    assert (row["cell"], row["layers"], row["augmented"]) == ("gru", changes.get("layers", 1), False)
    differences = pd.read_csv(paths.Q3_COMPARE_RESULTS / "differences.csv", keep_default_na=False)
    assert [tuple(r) for r in differences[["question", "aspect", "a", "b"]].itertuples(index=False)] == [
        ("recipe", "architecture", "gru", name), ("baseline", "", "gru", "baseline"),
        ("baseline", "", name, "baseline")]

    blocks = q3_section(Sources(project.root), project.params)
    headings = [b.text for b in blocks if isinstance(b, Heading)]
    assert f"Q3 (c) GRU: `gru`, `{name}`" in headings  # both entries under the GRU's part
    assert f"`{name}`: {described}, no augmentation" in headings
    texts = [b.text for b in blocks if isinstance(b, Paragraph)]
    assert any(t.startswith(f"{described} (glorot recurrent initialisation)")
               for t in texts), texts
    items = [item for b in blocks if isinstance(b, Bullets) for item in b.items]
    [effect] = [item for item in items if item.startswith("The architecture (GRU): ")]
    assert f"`gru` {pct(metrics['gru']['test_accuracy'])}" in effect
    assert f"`{name}` {pct(metrics[name]['test_accuracy'])}" in effect


def test_an_augmentation_amount_out_of_its_physical_range_is_refused(project, monkeypatch, capsys):
    project.set("q3.models.gru.jitter", 1e308).set("q3.models.gru.rotation", 270).set("q3.models.gru.scale", 1)
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    key = "error: params.yaml q3.models.gru"
    assert code == 2 and sorted(err) == [f"{key}.jitter = 1e+308: must be in [0, 1]",
                                         f"{key}.rotation = 270: must be in [0, 180] (degrees)",
                                         f"{key}.scale = 1: must be in [0, 1)"]


def test_a_divergence_names_the_augmentation_keys_that_are_set(project, monkeypatch, capsys):
    project.set("q3.models.rnn.lr", 1e300).set("q3.models.rnn.rotation", 30).set("q3.models.rnn.jitter", 0.5)
    monkeypatch.setenv("EEE443_JOBS", "1")
    code, err = project.run(train, "rnn", monkeypatch=monkeypatch, capsys=capsys)
    [line] = [e for e in err if e.startswith("error: ")]
    assert code == 2 and "q3.models.rnn.rotation (now 30)" in line and "q3.models.rnn.jitter (now 0.5)" in line, line
    assert "q3.models.rnn.scale" not in line
