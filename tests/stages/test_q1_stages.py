"""Q1 stages: params.yaml checks (exit 2, one line per key), feature measures, network files, tiny runs."""

import json

import numpy as np
import pandas as pd
import pytest

from models.autoencoder import SparseAutoencoder
from pipeline.common import paths
from pipeline.common.artifact import save_model
from pipeline.common.errors import UserError
from pipeline.q1 import quality, search, sweep, sweep_summary, train
from pipeline.q1.data import load_network, save_network

SIZE = 4  # synthetic 4 x 4 patches keep every run well under a second


@pytest.fixture
def patches(project):
    """The project with 60 synthetic patches in paths.PATCHES: random oriented edges plus noise, in [0.1, 0.9]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    angles = rng.uniform(0, np.pi, 60)
    edges = np.tanh(np.cos(angles)[:, None, None] * xx + np.sin(angles)[:, None, None] * yy)
    rows = 0.5 + 0.35 * edges.reshape(60, -1) + rng.normal(0, 0.02, (60, SIZE * SIZE))
    path = project.root / paths.PATCHES
    path.parent.mkdir(parents=True)
    np.save(path, np.clip(rows, 0.1, 0.9))
    return project.set("q1.quality.window", 2)


def test_train_reports_every_bad_key_on_one_line_and_exits_2(patches, monkeypatch, capsys):
    for key, value in {"q1.rho": 1.5, "q1.sgd.lr": -1.0, "q1.solver": "adam", "q1.hidden": 0,
                       "q1.sgd.momentum": 1.0}.items():
        patches.set(key, value)
    code, lines = patches.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == [
        "error: params.yaml q1.hidden = 0: must be a positive integer",
        "error: params.yaml q1.rho = 1.5: must be in (0, 1)",
        "error: params.yaml q1.solver = 'adam': must be one of lbfgs, sgd",
        "error: params.yaml q1.sgd.lr = -1.0: must be > 0",
        "error: params.yaml q1.sgd.momentum = 1.0: must be in [0, 1)",
    ]
    assert not (patches.root / "metrics").exists() and not (patches.root / "artifacts").exists()


def test_window_larger_than_the_patch_is_a_user_error(patches, monkeypatch, capsys):
    code, lines = patches.set("q1.quality.window", 5).run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.quality.window = 5: must be in 1..4 (the patch side)"]
    assert not (patches.root / paths.Q1_METRICS).exists()


def test_missing_patch_file_is_a_user_error(project, monkeypatch, capsys):
    code, lines = project.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == [f"error: {paths.PATCHES}: file not found (run `dvc repro q1_preprocess` first)"]


def test_sweep_reports_its_item_and_its_keys_together(patches, monkeypatch, capsys):
    code, lines = patches.set("q1.beta", -1.0).run(sweep, "3", "abc", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.sweep.lambda = 'abc': must be a finite number",
                     "error: params.yaml q1.beta = -1.0: must be >= 0"]


def test_sweep_and_search_name_their_own_keys(patches, monkeypatch, capsys):
    code, lines = patches.run(sweep, "0", "abc", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.sweep.hidden = 0: must be a positive integer",
                     "error: params.yaml q1.sweep.lambda = 'abc': must be a finite number"]
    code, lines = patches.set("q1.beta", -1.0).run(sweep, "3", "0", monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q1.beta = -1.0: must be >= 0"]
    patches.set("q1.search.beta", [1.0, 1.0]).set("q1.search.rho", [0.05, 2.0]).set("q1.search.min_r2", 0.0)
    code, lines = patches.run(search, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.search.beta = [1.0, 1.0]: values must be distinct",
                     "error: params.yaml q1.search.rho[1] = 2.0: must be in (0, 1)",
                     "error: params.yaml q1.search.min_r2 = 0.0: must be in (0, 1)"]
    assert not (patches.root / "results").exists()


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


def test_train_end_to_end_on_tiny_patches(patches, monkeypatch, capsys):
    for key, value in {"q1.hidden": 3, "q1.lambda": 0.001, "q1.beta": 0.5, "q1.rho": 0.1,
                       "q1.lbfgs.iterations": 6}.items():
        patches.set(key, value)
    code, lines = patches.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    plots = paths.Q1_TRAIN_PLOTS
    outputs = {paths.Q1_METRICS, paths.Q1_TRAIN_ARTIFACTS / paths.MODEL, plots / paths.CURVE,
               *(plots / name for name in ("features.png", "curve.png", "reconstructions.png"))}
    assert patches.files("metrics") | patches.files("artifacts") | patches.files("plots") == set(map(str, outputs))
    metrics = json.loads(paths.Q1_METRICS.read_text())
    assert {"final_loss", "final_mse", "final_decay", "final_sparsity", "heldout_mse", "heldout_r2", "rho_hat_mean",
            "rho_hat_std", "feature_score", "train_seconds", "steps"} <= set(metrics)
    assert metrics["final_loss"] == pytest.approx(metrics["final_mse"] + metrics["final_decay"]
                                                  + metrics["final_sparsity"])
    curve = pd.read_csv(plots / paths.CURVE)
    assert list(curve.columns) == ["step", "loss", "mse", "decay", "sparsity", "rho_hat"]
    assert len(curve) == metrics["steps"] <= 6
    np.testing.assert_allclose(curve["loss"], curve["mse"] + curve["decay"] + curve["sparsity"], rtol=1e-5)
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    for name in ("features.png", "curve.png", "reconstructions.png"):
        assert (plots / name).stat().st_size > 0
    model, params = load_network(paths.Q1_TRAIN_ARTIFACTS / paths.MODEL)
    assert (model.n_in, model.n_hidden, model.lam, model.beta, model.rho) == (16, 3, 0.001, 0.5, 0.1)
    assert params["W1"].shape == (16, 3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_train_with_sgd_and_divergence_names_the_learning_rate(patches, monkeypatch, capsys):
    for key, value in {"q1.hidden": 3, "q1.solver": "sgd", "q1.sgd.epochs": 2, "q1.sgd.batch_size": 16,
                       "q1.dtype": "float64", "q1.sgd.lr": 0.1}.items():
        patches.set(key, value)
    code, lines = patches.run(train, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    assert len(pd.read_csv(paths.Q1_TRAIN_PLOTS / paths.CURVE)) == 2
    code, lines = patches.set("q1.sgd.lr", 1e308).run(train, monkeypatch=monkeypatch, capsys=capsys)
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1
    assert "diverged at epoch 1" in errors[0] and "q1.sgd.lr" in errors[0]


def test_sweep_then_summary_uses_only_the_grid_from_params(patches, monkeypatch, capsys):
    patches.set("q1.beta", 0.5).set("q1.rho", 0.1).set("q1.lbfgs.iterations", 3)
    for hidden, lam in (("2", "0"), ("3", "0"), ("2", "0.01")):
        code, lines = patches.run(sweep, hidden, lam, monkeypatch=monkeypatch, capsys=capsys)
        assert code == 0, lines
    assert (paths.Q1_SWEEP_PLOTS / "h2_l0.01" / "features.png").is_file()
    assert (paths.Q1_SWEEP_PLOTS / "h2_l0.01" / paths.CURVE).is_file()
    assert (paths.Q1_SWEEP_ARTIFACTS / "h2_l0.01" / paths.MODEL).is_file()
    numbers = json.loads((paths.Q1_SWEEP_RESULTS / "h3_l0" / paths.RESULT).read_text())
    assert numbers["hidden"] == 3 and numbers["lam"] == 0.0

    # The grid shrinks to hidden [2] x lambda [0, 0.01]: h3_l0 is stale and must not appear.
    patches.set("q1.sweep", {"hidden": [2], "lambda": [0, 0.01]})
    code, lines = patches.run(sweep_summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    table = pd.read_csv(paths.Q1_SUMMARY_RESULTS / "sweep.csv")
    assert table[["hidden", "lambda"]].values.tolist() == [[2, 0.0], [2, 0.01]]
    assert (paths.Q1_SUMMARY_PLOTS / "features.png").stat().st_size > 0
    assert "| hidden | lambda |" in (paths.Q1_SUMMARY_RESULTS / "sweep.md").read_text()

    # A grid value without its results is a one-line user error naming the missing points.
    code, lines = patches.set("q1.sweep.hidden", [5]).run(sweep_summary, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == [f"error: {paths.Q1_SWEEP_RESULTS}: no q1_sweep result for Lhid 5, lambda 0; "
                                   "Lhid 5, lambda 0.01 (run `dvc repro` to produce it)"]


def test_search_end_to_end_writes_table_and_chooses_one_pair(patches, monkeypatch, capsys):
    code, lines = patches.run(search, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    table = pd.read_csv(paths.Q1_SEARCH_RESULTS / "search.csv")
    assert table[["beta", "rho"]].values.tolist() == [[0.1, 0.1], [1.0, 0.1]]
    assert table["chosen"].sum() == 1
    assert "chosen" in (paths.Q1_SEARCH_RESULTS / "search.md").read_text()
    for name in ("heatmap.png", "features.png"):
        assert (paths.Q1_SEARCH_PLOTS / name).stat().st_size > 0


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
