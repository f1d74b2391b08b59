"""Q3 stages: stratified split, confusion matrix, the evaluate command, the compare table, params checks."""

import json

import h5py
import numpy as np
import pytest

from models.sequence_classifier import RecurrentClassifier
from pipeline.common import paths
from pipeline.common.artifact import load_model
from pipeline.common.errors import UserError
from pipeline.q2.network import load_network
from pipeline.q3 import compare, evaluate, evaluation, train
from pipeline.q3.params import parse_head
from tests.conftest import Project, run_stage, write_h5


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
    assert code == 2 and err == [f"error: {paths.Q3_TRAIN_ARTIFACTS / 'gru' / paths.MODEL}: missing "
                                 "(run `dvc repro` to produce it)"]


def test_train_then_evaluate_by_model_name_gives_the_stage_confusion_matrix(project, monkeypatch, capsys):
    code, err = project.run(train, "gru", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    result = json.loads((paths.Q3_TRAIN_RESULTS / "gru" / paths.RESULT).read_text())
    assert result["model"] == "gru" and result["stopped_epoch"] == 2
    assert not [key for key in result if "seconds" in key]  # wall-clock times go to logs/ only
    curve = (paths.Q3_TRAIN_PLOTS / "gru" / paths.CURVE).read_text().splitlines()
    assert curve[0] == "epoch,lr,train_loss,train_accuracy,train_error,val_loss,val_accuracy,val_error"
    log = json.loads((paths.LOGS / "q3_train@gru.json").read_text())
    assert log["stage"] == "q3_train@gru" and log["train_seconds"] >= 0 and len(log["epoch_seconds"]) == 2
    assert all(seconds > 0 for seconds in log["epoch_seconds"])
    assert not any((project.root / ".staging").glob("*"))
    cm = project.root / "cm.csv"
    code, err = project.run(evaluate, "--model", "gru", "--data", "data/raw/data3.h5", "--confusion", cm,
                            monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert cm.read_text() == (paths.Q3_TRAIN_RESULTS / "gru" / "confusion_test.csv").read_text()


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
        summary = {"test_accuracy": 0.9 - 0.1 * i, "test_cross_entropy": 0.3 + i, "val_accuracy": 0.95 - i / 100,
                   "val_cross_entropy": 0.2, "train_accuracy": 0.99, "best_epoch": 10 + i, "stopped_epoch": 15 + i,
                   "stop_reason": "early stop", "parameters": 1000 + i, "val_overlapping_train": i,
                   "precision": {"walking": 0.9}, "recall": {"walking": 0.8}}
        (paths.Q3_TRAIN_RESULTS / model).mkdir(parents=True)
        (paths.Q3_TRAIN_RESULTS / model / paths.RESULT).write_text(json.dumps(summary))
        (paths.Q3_TRAIN_PLOTS / model).mkdir(parents=True)
        (paths.Q3_TRAIN_PLOTS / model / paths.CURVE).write_text("epoch,val_error\n1,0.5\n2,0.3\n")
    code, err = project.run(compare, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, err
    assert json.loads(paths.Q3_METRICS.read_text()) == {  # headline numbers only, one object per model
        "gru": {"test_accuracy": 0.9, "val_accuracy": 0.95, "test_cross_entropy": 0.3},
        "rnn": {"test_accuracy": 0.8, "val_accuracy": 0.94, "test_cross_entropy": 1.3},
        "split": {"val_windows_overlapping_train": 1},  # the largest over the models compared (one split for all)
    }
    table = (paths.Q3_COMPARE_RESULTS / "comparison.csv").read_text().splitlines()
    assert table == ["model,test_accuracy,val_accuracy,test_cross_entropy,best_epoch,stopped_epoch,parameters",
                     "gru,0.9,0.95,0.3,10,15,1000", "rnn,0.8,0.94,1.3,11,16,1001"]
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
