"""Q3 stages: stratified split, confusion matrix, the evaluate command, the compare table, option checks."""

import json

import h5py
import numpy as np
import pytest
import yaml

from models.sequence_classifier import RecurrentClassifier
from pipeline import q3_common
from pipeline.errors import UserError
from tests.conftest import run_stage


def test_stratified_split_keeps_class_proportions_without_overlap():
    y = np.repeat(np.arange(6), [500, 400, 300, 200, 100, 50])  # class-contiguous blocks, like data3
    train, val = q3_common.stratified_split(y, 0.1, np.random.default_rng(0))
    assert len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(y)
    np.testing.assert_array_equal(np.bincount(y[val]), [50, 40, 30, 20, 10, 5])
    again, _ = q3_common.stratified_split(y, 0.1, np.random.default_rng(0))
    other, _ = q3_common.stratified_split(y, 0.1, np.random.default_rng(1))
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)
    assert not np.array_equal(val[:50], np.arange(50))  # shuffled within the class, not its first rows


def test_confusion_matrix_and_precision_recall_by_hand():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 1])
    counts = q3_common.confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [1, 2, 0], [0, 1, 0]])
    precision, recall = q3_common.precision_recall(counts)
    np.testing.assert_allclose(precision, [1 / 2, 2 / 4, 0.0])  # class 2 never predicted: 0
    np.testing.assert_allclose(recall, [1 / 2, 2 / 3, 0.0])


def test_parse_head():
    assert q3_common.parse_head("64") == (64,)
    assert q3_common.parse_head("64,32") == (64, 32)
    assert q3_common.parse_head("none") == ()
    with pytest.raises(ValueError):
        q3_common.parse_head("64,-1")


def test_standardiser_uses_given_statistics():
    x = np.random.default_rng(0).normal(5.0, 3.0, size=(40, 10, 3))
    scaler = q3_common.Standardiser.fit(x)
    z = scaler(x, np.float64)
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1, atol=1e-12)
    off = q3_common.Standardiser.fit(x, enabled=False)
    np.testing.assert_array_equal(off(x, np.float64), x)


@pytest.fixture
def tiny_model_and_data(tmp_path):
    """A tiny GRU saved as a q3 artifact and a data3-layout file with one-hot labels."""
    rng = np.random.default_rng(0)
    model = RecurrentClassifier("gru", n_inputs=3, hidden=5, head=(4,), n_classes=6)
    params = model.init_params(rng, np.float32)
    scaler = q3_common.Standardiser(np.array([0.1, -0.2, 0.3]), np.array([2.0, 1.0, 0.5]))
    artifact = tmp_path / "gru.npz"
    q3_common.save_artifact(artifact, model, params, scaler)
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
    loaded, loaded_params, loaded_scaler = q3_common.load_artifact(artifact)
    assert (loaded.cell, loaded.hidden, loaded.head.hidden) == ("gru", 5, (4,))
    for name in params:
        np.testing.assert_array_equal(loaded_params[name], params[name])
    np.testing.assert_array_equal(loaded_scaler.std, scaler.std)


def test_evaluate_command_on_a_tiny_file(tiny_model_and_data, tmp_path):
    model, params, scaler, artifact, data, x_test, y_test = tiny_model_and_data
    out = tmp_path / "cm.csv"
    proc = run_stage("pipeline.q3_train", ["evaluate", "--artifact", artifact, "--data", data, "--confusion", out])
    assert proc.returncode == 0, proc.stderr
    predicted = model.predict(params, scaler(x_test)).argmax(axis=1)
    accuracy = np.mean(predicted == y_test)
    assert f"accuracy {accuracy:.4f}" in proc.stdout
    rows = out.read_text().strip().splitlines()
    assert rows[0].startswith("true,pred_downstairs")
    counts = np.array([[int(v) for v in row.split(",")[1:]] for row in rows[1:]])
    np.testing.assert_array_equal(counts, q3_common.confusion_matrix(y_test, predicted, 6))


def test_evaluate_command_reports_a_missing_model(tmp_path, tiny_model_and_data):
    *_, data, _, _ = tiny_model_and_data
    proc = run_stage("pipeline.q3_train", ["evaluate", "--artifact", tmp_path / "nope.npz", "--data", data])
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {tmp_path / 'nope.npz'}: missing (run `dvc repro` to produce it)"]


def test_bad_options_exit_2_naming_each_key(tmp_path):
    proc = run_stage("pipeline.q3_train", ["train", "--model", "gru", "--lr", "-0.1", "--head", "64,x",
                                           "--val-fraction", "1.5", "--momentum", "1", "--standardise", "maybe",
                                           "--recurrent-init", "zeros", "--results", tmp_path])
    assert proc.returncode == 2
    for key in ("q3.models.gru.lr", "q3.models.gru.head", "q3.val_fraction", "q3.momentum", "q3.standardise",
                "q3.models.gru.recurrent_init"):
        assert f"params.yaml {key} = " in proc.stderr, proc.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_compare_builds_metrics_and_table_from_params_models(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"q3": {"models": {"gru": {}, "rnn": {}}}}))
    results, plots = tmp_path / "results", tmp_path / "plots"
    results.mkdir()
    plots.mkdir()
    for i, model in enumerate(("gru", "rnn", "lstm")):  # lstm is present but not in q3.models: ignored
        summary = {"test_accuracy": 0.9 - 0.1 * i, "test_cross_entropy": 0.3, "val_accuracy": 0.95,
                   "best_epoch": 10 + i, "stopped_epoch": 15 + i, "stop_reason": "early stop", "wall_seconds": 60.0,
                   "seconds_per_epoch": 3.5, "parameters": 1000 + i,
                   "precision": {"walking": 0.9}, "recall": {"walking": 0.8}}
        (results / f"{model}.json").write_text(json.dumps(summary))
        (plots / f"{model}_curve.csv").write_text("epoch,val_error\n1,0.5\n2,0.3\n")
    metrics = tmp_path / "q3.json"
    proc = run_stage("pipeline.q3_compare", ["--params", tmp_path / "params.yaml", "--results", results,
                                             "--plots", plots, "--metrics", metrics])
    assert proc.returncode == 0, proc.stderr
    flat = json.loads(metrics.read_text())
    assert flat["gru_test_accuracy"] == 0.9 and flat["rnn_best_epoch"] == 11
    assert flat["gru_recall_walking"] == 0.8
    assert not any(k.startswith("lstm") for k in flat)
    table = (results / "comparison.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == ["gru", "rnn"]
    assert (plots / "comparison.png").stat().st_size > 0


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_model_file_is_one_line_naming_it(tiny_model_and_data, tmp_path, keep):
    *_, artifact, data, _, _ = tiny_model_and_data
    content = artifact.read_bytes()
    artifact.write_bytes(content[: int(keep * len(content))])
    with pytest.raises(UserError) as err:
        q3_common.load_artifact(artifact)
    assert str(err.value).startswith(f"{artifact}: not a readable .npz file (") and "\n" not in str(err.value)
    proc = run_stage("pipeline.q3_train", ["evaluate", "--artifact", artifact, "--data", data])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(f"error: {artifact}: not a readable .npz")


def test_compare_stops_on_a_damaged_summary_with_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("q3:\n  models:\n    gru: {}\n")
    (tmp_path / "gru.json").write_text('{"test_accuracy": 0.9')  # cut short
    proc = run_stage("pipeline.q3_compare", ["--params", tmp_path / "params.yaml", "--results", tmp_path,
                                             "--plots", tmp_path, "--metrics", tmp_path / "q3.json"])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [f"error: {tmp_path / 'gru.json'}: not valid JSON (Expecting ',' delimiter: "
                                        "line 1 column 22 (char 21)); run `dvc repro` to rewrite it"]
    assert not (tmp_path / "q3.json").exists()
