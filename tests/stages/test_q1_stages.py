"""Q1 stages: params.yaml checks (exit 2, one line per key), feature measures, network files, tiny runs, and
what staging promises: a failed run leaves the earlier outputs byte-identical and nothing behind in .staging/."""

import errno
import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest

from models.autoencoder import SparseAutoencoder
from pipeline.common import paths
from pipeline.common.artifact import save_model
from pipeline.common.errors import UserError
from pipeline.q1 import figures, fit, preprocess, quality, search, sweep, sweep_summary, train
from pipeline.q1.data import load_network, load_patches, save_network
from tests.conftest import write_h5

SIZE = 4  # synthetic 4 x 4 patches keep every run well under a second
EDGES = "data/raw/edges.h5"


@pytest.fixture
def edges(project):
    """The project with data.data1 = 60 synthetic 4 x 4 RGB patches whose luminosity (R = G = B) is a random
    oriented edge plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    angles = rng.uniform(0, np.pi, 60)
    gray = 0.5 + 0.35 * np.tanh(np.cos(angles)[:, None, None] * xx + np.sin(angles)[:, None, None] * yy)
    gray += rng.normal(0, 0.02, gray.shape)
    write_h5(project.root / EDGES, data=np.repeat(np.clip(gray, 0, 1)[:, None], 3, axis=1))
    return project.set("data.data1", EDGES).set("q1.quality.window", 2)


def contents(project) -> dict[str, str]:
    """Every file of the project but params.yaml (which the test edits), with the SHA-256 of its bytes."""
    return {name: hashlib.sha256((project.root / name).read_bytes()).hexdigest() for name in project.files()
            if name != "params.yaml"}


def test_train_reports_every_bad_key_on_one_line_and_exits_2(edges, monkeypatch, capsys):
    for key, value in {"q1.rho": 1.5, "q1.sgd.lr": -1.0, "q1.solver": "adam", "q1.hidden": 0,
                       "q1.sgd.momentum": 1.0}.items():
        edges.set(key, value)
    code, lines = edges.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == [
        "error: params.yaml q1.hidden = 0: must be a positive integer",
        "error: params.yaml q1.rho = 1.5: must be in (0, 1)",
        "error: params.yaml q1.solver = 'adam': must be one of lbfgs, sgd",
        "error: params.yaml q1.sgd.lr = -1.0: must be > 0",
        "error: params.yaml q1.sgd.momentum = 1.0: must be in [0, 1)",
    ]
    assert not (edges.root / "metrics").exists() and not (edges.root / "artifacts").exists()


def test_window_larger_than_the_patch_is_a_user_error(edges, monkeypatch, capsys):
    code, lines = edges.set("q1.quality.window", 5).run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.quality.window = 5: must be in 1..4 (the patch side)"]
    assert not (edges.root / paths.Q1_METRICS).exists()


@pytest.mark.parametrize("stage", [train, search, sweep])
def test_missing_data1_file_is_a_user_error(project, stage, monkeypatch, capsys):
    code, lines = project.set("data.data1", "none.h5").run(stage, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: none.h5: file not found"]


def test_sweep_reports_its_grid_and_its_other_keys_together(edges, monkeypatch, capsys):
    edges.set("q1.beta", -1.0).set("q1.sweep.lambda", [0, "abc"])
    code, lines = edges.run(sweep, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert sorted(lines) == ["error: params.yaml q1.beta = -1.0: must be >= 0",
                             "error: params.yaml q1.sweep.lambda[1] = 'abc': must be a finite number"]
    assert not (edges.root / "results").exists()


def test_sweep_and_search_name_their_own_keys(edges, monkeypatch, capsys):
    code, lines = edges.set("q1.sweep.hidden", [0, 3]).run(sweep, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.sweep.hidden[0] = 0: must be a positive integer"]
    code, lines = edges.set("q1.sweep.hidden", [3]).set("q1.beta", -1.0).run(sweep, monkeypatch=monkeypatch,
                                                                             capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.beta = -1.0: must be >= 0"]
    edges.set("q1.search.beta", [1.0, 1.0]).set("q1.search.rho", [0.05, 2.0]).set("q1.search.min_r2", 0.0)
    code, lines = edges.run(search, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.search.beta = [1.0, 1.0]: values must be distinct",
                     "error: params.yaml q1.search.rho[1] = 2.0: must be in (0, 1)",
                     "error: params.yaml q1.search.min_r2 = 0.0: must be in (0, 1)"]
    assert not (edges.root / "results").exists()


def test_localisation_and_coherence_separate_edges_blobs_and_noise():
    yy, xx = np.mgrid[0:16, 0:16].astype(float)
    edge = np.exp(-((xx - 5) ** 2) / 8 - (yy - 5) ** 2 / 18) * np.sin(1.2 * (xx - 5))  # Gabor near a corner
    blob = np.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 4)  # isotropic, localised
    ramp = xx  # oriented, everywhere
    noise = np.random.default_rng(0).standard_normal((16, 16))
    filters = quality.filter_images(np.stack([edge, blob, ramp, noise]).reshape(4, -1).T, 16)
    loc, coh = quality.localisation(filters, 8), quality.coherence(filters)
    assert loc[0] > 0.9 and coh[0] > 0.7  # the edge: both high
    assert loc[1] > 0.9 and coh[1] < 0.05  # the blob: localised, not oriented
    assert loc[2] < 0.5 and coh[2] > 0.99  # the ramp: oriented, not localised
    assert loc[3] < 0.5 and coh[3] < 0.2  # noise: neither
    score = loc * coh
    assert score.argmax() == 0


def test_search_choice_takes_best_score_among_eligible_and_fails_when_none_is():
    table = pd.DataFrame({"heldout_r2": [0.9, 0.4, 0.6], "feature_score": [0.1, 0.9, 0.3]})
    assert search.choose(table, 0.5)["chosen"].tolist() == [False, False, True]
    with pytest.raises(UserError, match="q1.search.min_r2 = 0.95"):
        search.choose(table, 0.95)


def test_train_end_to_end_on_tiny_patches(edges, monkeypatch, capsys):
    for key, value in {"q1.hidden": 3, "q1.lambda": 0.001, "q1.beta": 0.5, "q1.rho": 0.1,
                       "q1.lbfgs.iterations": 6}.items():
        edges.set(key, value)
    before = edges.files()
    code, lines = edges.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    plots = paths.Q1_TRAIN_PLOTS
    result_path = paths.Q1_TRAIN_RESULTS / paths.RESULT
    written = {paths.Q1_METRICS, paths.Q1_TRAIN_ARTIFACTS / paths.MODEL, result_path, plots / paths.CURVE,
               *(plots / name for name in ("features.png", "curve.png", "reconstructions.png")), "logs/q1_train.json"}
    assert edges.files() == before | set(map(str, written))  # nothing else, nothing left in .staging/
    result = json.loads(result_path.read_text())
    assert set(result) == {"final_loss", "final_mse", "final_decay", "final_sparsity", "heldout_mse", "heldout_r2",
                           "rho_hat_mean", "rho_hat_std", "localisation", "coherence", "feature_score", "steps"}
    assert result["final_loss"] == pytest.approx(result["final_mse"] + result["final_decay"]
                                                 + result["final_sparsity"])
    headline = ("feature_score", "heldout_r2", "final_loss", "rho_hat_mean")
    assert json.loads(paths.Q1_METRICS.read_text()) == {"autoencoder": {key: result[key] for key in headline}}
    log = json.loads((edges.root / "logs/q1_train.json").read_text())
    assert set(log) == {"stage", "train_seconds", "environment"} and log["stage"] == "q1_train"
    assert log["train_seconds"] >= 0 and {"versions", "threads"} <= set(log["environment"])
    assert all(library["num_threads"] == 1 for library in log["environment"]["threads"])  # errors.run's limit
    curve = pd.read_csv(plots / paths.CURVE)
    assert list(curve.columns) == ["step", "loss", "mse", "decay", "sparsity", "rho_hat"]
    assert len(curve) == result["steps"] <= 6
    np.testing.assert_allclose(curve["loss"], curve["mse"] + curve["decay"] + curve["sparsity"], rtol=1e-5)
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    for name in ("features.png", "curve.png", "reconstructions.png"):
        assert (plots / name).stat().st_size > 0
    model, params = load_network(paths.Q1_TRAIN_ARTIFACTS / paths.MODEL)
    assert (model.n_in, model.n_hidden, model.lam, model.beta, model.rho) == (16, 3, 0.001, 0.5, 0.1)
    assert params["W1"].shape == (16, 3)


def test_a_failed_rerun_leaves_the_first_runs_outputs_byte_identical(edges, monkeypatch, capsys):
    code, lines = edges.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    edges.set("q1.lambda", 0.01)  # a rerun would write other numbers
    before = contents(edges)

    code, lines = edges.set("q1.quality.window", 5).run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.quality.window = 5: must be in 1..4 (the patch side)"]
    assert contents(edges) == before

    # The disk fills up half-way through writing the new outputs: the part already written was staged only.
    staged = []
    figure = paths.Q1_TRAIN_PLOTS / "reconstructions.png"

    def disk_full(*args):
        staged.extend(str(path) for path in (edges.root / ".staging").rglob("*") if path.is_file())
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(figure))

    monkeypatch.setattr(figures, "reconstructions_figure", disk_full)
    code, lines = edges.set("q1.quality.window", 2).run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert [line for line in lines if line.startswith("error: ")] == [
        f"error: {figure}: No space left on device; earlier outputs are unchanged"]
    assert any(name.endswith(str(paths.Q1_TRAIN_ARTIFACTS / paths.MODEL)) for name in staged), staged
    assert contents(edges) == before  # and no staging copy left behind


@pytest.mark.parametrize(("stage", "key", "value"), [(train, "q1.hidden", 1_000_000_000),
                                                     (search, "q1.search.hidden", 1_000_000_000),
                                                     (sweep, "q1.sweep.hidden", [3, 1_000_000_000])])
def test_a_hidden_size_beyond_memory_is_one_line_before_any_output(edges, stage, key, value, monkeypatch, capsys):
    edges.set(key, value)
    before = contents(edges)
    code, lines = edges.run(stage, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: params.yaml {key} = 1000000000: the run would need about ")
    assert contents(edges) == before


def test_preprocess_summary_counts_the_patches_and_the_share_at_a_clip_bound(edges, monkeypatch, capsys):
    before = edges.files()
    code, lines = edges.set("q1.preprocess.clip_std", 1.0).run(preprocess, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    summary_path = paths.Q1_PREPROCESS_RESULTS / "summary.json"
    assert edges.files() == before | {str(summary_path), str(preprocess.FIGURE)}
    summary = json.loads(summary_path.read_text())
    assert set(summary) == {"patches", "size", "at_clip_bound", "mean", "std"}
    assert summary["patches"] == 60 and summary["size"] == SIZE
    gray = load_patches(EDGES)[:, 0].reshape(60, -1)  # R = G = B: the luminosity
    centred = gray - gray.mean(axis=1, keepdims=True)
    assert 0 < summary["at_clip_bound"] < 1
    assert summary["at_clip_bound"] == pytest.approx(np.mean(np.abs(centred) >= centred.std()))  # clip_std 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_train_with_sgd_and_divergence_names_the_learning_rate(edges, monkeypatch, capsys):
    for key, value in {"q1.hidden": 3, "q1.solver": "sgd", "q1.sgd.epochs": 2, "q1.sgd.batch_size": 16,
                       "q1.dtype": "float64", "q1.sgd.lr": 0.1}.items():
        edges.set(key, value)
    code, lines = edges.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    assert len(pd.read_csv(paths.Q1_TRAIN_PLOTS / paths.CURVE)) == 2
    code, lines = edges.set("q1.sgd.lr", 1e308).run(train, monkeypatch=monkeypatch, capsys=capsys)
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1
    assert "diverged at epoch 1" in errors[0] and "q1.sgd.lr" in errors[0]


def test_sweep_then_summary_uses_only_the_grid_from_params(edges, monkeypatch, capsys):
    edges.set("q1.beta", 0.5).set("q1.rho", 0.1).set("q1.lbfgs.iterations", 3)
    edges.set("q1.sweep", {"hidden": [2, 3], "lambda": [0, 0.01]})
    code, lines = edges.run(sweep, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    names = {"h2_l0", "h3_l0", "h2_l0.01", "h3_l0.01"}
    for folder in (paths.Q1_SWEEP_ARTIFACTS, paths.Q1_SWEEP_RESULTS):
        assert {path.name for path in folder.iterdir()} == names
    assert {path.name for path in paths.Q1_SWEEP_PLOTS.iterdir()} == {*names, paths.CURVES}
    assert {path.name for path in (paths.Q1_SWEEP_PLOTS / "h2_l0.01").iterdir()} == {"features.png"}
    curves = pd.read_csv(paths.Q1_SWEEP_PLOTS / paths.CURVES)  # every configuration on one dvc plots chart
    assert list(curves.columns) == ["configuration", "hidden", "lambda", *fit.CURVE_COLUMNS]
    assert list(dict.fromkeys(curves["configuration"])) == ["h2_l0", "h3_l0", "h2_l0.01", "h3_l0.01"]  # grid order
    for name, rows in curves.groupby("configuration"):
        steps = json.loads((paths.Q1_SWEEP_RESULTS / name / paths.RESULT).read_text())["steps"]
        assert list(rows["step"]) == list(range(1, steps + 1))  # one row per step
    assert (paths.Q1_SWEEP_ARTIFACTS / "h2_l0.01" / paths.MODEL).is_file()
    for name, hidden, lam in (("h3_l0", 3, 0.0), ("h2_l0.01", 2, 0.01)):
        numbers = json.loads((paths.Q1_SWEEP_RESULTS / name / paths.RESULT).read_text())
        assert numbers["hidden"] == hidden and numbers["lam"] == lam and not [k for k in numbers if "seconds" in k]
    assert edges.files("logs") == {"logs/q1_sweep.json"}
    log = json.loads((edges.root / "logs" / "q1_sweep.json").read_text())
    assert set(log["configurations"]) == names

    # The grid shrinks to hidden [2] x lambda [0, 0.01]: h3_l0 is stale and must not appear.
    edges.set("q1.sweep", {"hidden": [2], "lambda": [0, 0.01]})
    code, lines = edges.run(sweep_summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    table = pd.read_csv(paths.Q1_SUMMARY_RESULTS / "sweep.csv")
    assert table[["hidden", "lambda"]].values.tolist() == [[2, 0.0], [2, 0.01]]
    assert (paths.Q1_SUMMARY_PLOTS / "features.png").stat().st_size > 0
    assert "| hidden | lambda |" in (paths.Q1_SUMMARY_RESULTS / "sweep.md").read_text()

    # A grid value without its results is a one-line user error naming the missing points.
    code, lines = edges.set("q1.sweep.hidden", [5]).run(sweep_summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == [f"error: {paths.Q1_SWEEP_RESULTS}: no q1_sweep result for Lhid 5, lambda 0; "
                                   "Lhid 5, lambda 0.01 (run `dvc repro` to produce it)"]


def test_search_end_to_end_writes_table_and_chooses_one_pair_per_seed(edges, monkeypatch, capsys):
    edges.set("q1.search.seeds", [0, 1]).set("q1.search.iterations", 20)
    code, lines = edges.run(search, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    table = pd.read_csv(paths.Q1_SEARCH_RESULTS / "search.csv")
    assert table[["seed", "beta", "rho"]].values.tolist() == [[0, 0.1, 0.1], [0, 1.0, 0.1], [1, 0.1, 0.1],
                                                              [1, 1.0, 0.1]]
    assert table.groupby("seed")["chosen"].sum().tolist() == [1, 1]
    text = (paths.Q1_SEARCH_RESULTS / "search.md").read_text()
    assert "Chosen per seed" in text and "seed 0: beta = " in text and "seed 1: beta = " in text
    assert not [column for column in table.columns if "seconds" in column]  # wall-clock times go to logs/
    for name in ("heatmap.png", "features.png"):
        assert (paths.Q1_SEARCH_PLOTS / name).stat().st_size > 0
    log = json.loads((edges.root / "logs/q1_search.json").read_text())
    assert set(log["per_pair"]) == {f"seed={seed} beta={b} rho=0.1" for seed in (0, 1) for b in ("0.1", "1")}


def _network():
    model = SparseAutoencoder(16, 3, 0.001, 0.5, 0.1)
    return model, model.init_params(np.random.default_rng(0))


def test_saved_network_round_trip(tmp_path):
    model, params = _network()
    save_network(tmp_path / "n.npz", model, params)
    loaded_model, loaded = load_network(tmp_path / "n.npz")
    assert loaded_model == model and set(loaded) == set(params)
    for name in params:
        np.testing.assert_array_equal(loaded[name], params[name])


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_network_file_is_one_line_naming_it(tmp_path, keep):
    path = tmp_path / "n.npz"
    save_network(path, *_network())
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data))])
    with pytest.raises(UserError) as err:
        load_network(path)
    assert str(err.value).startswith(f"{path}: not a readable .npz file (") and "\n" not in str(err.value)


def test_a_network_file_without_its_config_is_one_line(tmp_path):
    np.savez(tmp_path / "n.npz", W1=np.zeros((3, 16)))
    with pytest.raises(UserError, match=r"n\.npz: missing arrays config; run `dvc repro`"):
        load_network(tmp_path / "n.npz")


def test_a_network_file_of_another_kind_is_one_line(tmp_path):
    save_model(tmp_path / "n.npz", "trigram_lm", {"dim": 4}, {"W1": np.zeros((3, 16))})
    with pytest.raises(UserError, match=r"n\.npz: holds a 'trigram_lm' model, expected 'sparse_autoencoder'; run"):
        load_network(tmp_path / "n.npz")


def test_a_network_file_without_its_hyperparameters_or_weights_is_one_line(tmp_path):
    model, params = _network()
    save_model(tmp_path / "n.npz", "sparse_autoencoder", {"n_in": 16, "n_hidden": 3, "lam": 0.001, "beta": 0.5},
               {"W1": params["W1"], "b1": params["b1"]})
    with pytest.raises(UserError) as err:
        load_network(tmp_path / "n.npz")
    assert str(err.value) == (f"{tmp_path / 'n.npz'}: missing config rho and weights W2, b2; "
                              "run `dvc repro` to rewrite it")
