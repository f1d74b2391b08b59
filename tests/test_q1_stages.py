"""Q1 stages: option checks (exit 2, one line per key), feature measures, and tiny end-to-end runs."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from models.autoencoder import SparseAutoencoder
from pipeline import q1_quality, q1_search, q1_sweep, q1_sweep_summary, q1_train
from pipeline.errors import UserError
from pipeline.nargs import expand_nargs
from pipeline.q1_data import load_network, save_network
from tests.conftest import invoke

SIZE = 4  # synthetic 4 x 4 patches keep every run well under a second


@pytest.fixture
def patches(tmp_path):
    """60 synthetic patches: random oriented edges plus noise, in [0.1, 0.9]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] - (SIZE - 1) / 2
    angles = rng.uniform(0, np.pi, 60)
    edges = np.tanh(np.cos(angles)[:, None, None] * xx + np.sin(angles)[:, None, None] * yy)
    rows = 0.5 + 0.35 * edges.reshape(60, -1) + rng.normal(0, 0.02, (60, SIZE * SIZE))
    path = tmp_path / "patches.npy"
    np.save(path, np.clip(rows, 0.1, 0.9))
    return path


def _solver_args(iterations=5):
    return ["--iterations", str(iterations), "--log-every", "2", "--holdout", "0.2", "--window", "2"]


def test_expand_nargs_turns_dvc_lists_into_repeated_options():
    argv = ["--hidden", "10", "50", "--lambda", "0", "0.001", "--min_r2", "0.5", "--beta", "1"]
    assert expand_nargs(argv, {"--hidden", "--lambda", "--beta"}) == [
        "--hidden", "10", "--hidden", "50", "--lambda", "0", "--lambda", "0.001", "--min_r2", "0.5", "--beta", "1",
    ]


def test_train_reports_every_bad_key_on_one_line_and_exits_2(monkeypatch, capsys, patches):
    args = ["--patches", str(patches), "--rho", "1.5", "--lr", "-1", "--solver", "adam", "--hidden", "0",
            "--momentum", "1"]
    code, lines = invoke(q1_train, args, monkeypatch, capsys)
    assert code == 2
    assert lines == [
        "error: params.yaml q1.hidden = 0: must be a positive integer",
        "error: params.yaml q1.rho = 1.5: must be in (0, 1)",
        "error: params.yaml q1.solver = 'adam': must be one of lbfgs, sgd",
        "error: params.yaml q1.sgd.lr = -1.0: must be > 0",
        "error: params.yaml q1.sgd.momentum = 1.0: must be in [0, 1)",
    ]


def test_window_larger_than_the_patch_is_a_user_error(monkeypatch, capsys, patches, tmp_path):
    args = ["--patches", str(patches), "--window", "5", "--metrics", str(tmp_path / "m.json")]
    code, lines = invoke(q1_train, args, monkeypatch, capsys)
    assert code == 2 and lines == ["error: params.yaml q1.quality.window = 5: must be in 1..4 (the patch side)"]


def test_missing_patch_file_is_a_user_error(monkeypatch, capsys, tmp_path):
    code, lines = invoke(q1_train, ["--patches", str(tmp_path / "none.npy")], monkeypatch, capsys)
    assert code == 2 and len(lines) == 1 and "none.npy: file not found" in lines[0]


def test_sweep_and_search_name_their_own_keys(monkeypatch, capsys, patches):
    code, lines = invoke(q1_sweep, ["--patches", str(patches), "--hidden", "3", "--lambda", "abc", "--beta",
                                      "-1"], monkeypatch, capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.sweep.lambda = 'abc': must be a finite number",
                     "error: params.yaml q1.beta = -1.0: must be >= 0"]
    code, lines = invoke(q1_search, ["--patches", str(patches), "--beta", "1", "1", "--rho", "0.05", "2",
                                       "--min_r2", "0"], monkeypatch, capsys)
    assert code == 2
    assert lines == ["error: params.yaml q1.search.rho[1] = 2.0: must be in (0, 1)",
                     "error: params.yaml q1.search.beta = [1.0, 1.0]: values must be distinct",
                     "error: params.yaml q1.search.min_r2 = 0.0: must be in (0, 1)"]


def test_localisation_and_coherence_separate_edges_blobs_and_noise():
    yy, xx = np.mgrid[0:16, 0:16].astype(float)
    edge = np.exp(-((xx - 5) ** 2) / 8 - (yy - 5) ** 2 / 18) * np.sin(1.2 * (xx - 5))  # Gabor near a corner
    blob = np.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / 4)  # isotropic, localised
    ramp = xx  # oriented, everywhere
    noise = np.random.default_rng(0).standard_normal((16, 16))
    filters = q1_quality.filter_images(np.stack([edge, blob, ramp, noise]).reshape(4, -1).T, 16)
    loc, coh = q1_quality.localisation(filters, 8), q1_quality.coherence(filters)
    assert loc[0] > 0.9 and coh[0] > 0.7  # the edge: both high
    assert loc[1] > 0.9 and coh[1] < 0.05  # the blob: localised, not oriented
    assert loc[2] < 0.5 and coh[2] > 0.99  # the ramp: oriented, not localised
    assert loc[3] < 0.5 and coh[3] < 0.2  # noise: neither
    score = loc * coh
    assert score.argmax() == 0


def test_search_choice_takes_best_score_among_eligible_and_fails_when_none_is():
    table = pd.DataFrame({"heldout_r2": [0.9, 0.4, 0.6], "feature_score": [0.1, 0.9, 0.3]})
    assert q1_search.choose(table, 0.5)["chosen"].tolist() == [False, False, True]
    with pytest.raises(UserError, match="q1.search.min_r2 = 0.95"):
        q1_search.choose(table, 0.95)


def test_train_end_to_end_on_tiny_patches(tmp_path, patches):
    out = tmp_path / "out"
    args = ["--patches", str(patches), "--hidden", "3", "--lambda", "0.001", "--beta", "0.5", "--rho", "0.1",
            "--model-out", str(out / "ae.npz"), "--metrics", str(out / "q1.json"), "--plots", str(out),
            "--shown", "4", *_solver_args(iterations=6)]
    result = CliRunner().invoke(q1_train.app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "q1.json").read_text())
    assert {"final_loss", "final_mse", "final_decay", "final_sparsity", "heldout_mse", "heldout_r2", "rho_hat_mean",
            "rho_hat_std", "feature_score", "train_seconds", "steps"} <= set(metrics)
    assert metrics["final_loss"] == pytest.approx(metrics["final_mse"] + metrics["final_decay"]
                                                  + metrics["final_sparsity"])
    curve = pd.read_csv(out / "curve.csv")
    assert list(curve.columns) == ["step", "loss", "mse", "decay", "sparsity", "rho_hat"]
    assert len(curve) == metrics["steps"] <= 6
    np.testing.assert_allclose(curve["loss"], curve["mse"] + curve["decay"] + curve["sparsity"], rtol=1e-5)
    assert curve["loss"].iloc[-1] < curve["loss"].iloc[0]
    for name in ("features.png", "curve.png", "reconstructions.png"):
        assert (out / name).stat().st_size > 0
    model, params = load_network(out / "ae.npz")
    assert (model.n_in, model.n_hidden, model.lam, model.beta, model.rho) == (16, 3, 0.001, 0.5, 0.1)
    assert params["W1"].shape == (16, 3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_train_with_sgd_and_divergence_names_the_learning_rate(tmp_path, patches):
    common = ["--patches", str(patches), "--hidden", "3", "--solver", "sgd", "--epochs", "2", "--batch-size", "16",
              "--model-out", str(tmp_path / "ae.npz"), "--metrics", str(tmp_path / "m.json"), "--plots",
              str(tmp_path), "--holdout", "0.2", "--window", "2", "--dtype", "float64"]
    ok = CliRunner().invoke(q1_train.app, [*common, "--lr", "0.1"])
    assert ok.exit_code == 0, ok.output
    assert len(pd.read_csv(tmp_path / "curve.csv")) == 2
    bad = CliRunner().invoke(q1_train.app, [*common, "--lr", "1e308"])
    assert isinstance(bad.exception, UserError)
    message = str(bad.exception)
    assert "diverged at epoch 1" in message and "q1.sgd.lr" in message


def test_sweep_then_summary_uses_only_the_grid_from_params(tmp_path, patches, monkeypatch, capsys):
    dirs = {"--artifacts": tmp_path / "art", "--plots": tmp_path / "plots", "--results": tmp_path / "res"}
    dir_args = [str(a) for pair in dirs.items() for a in pair]
    for hidden, lam in (("2", "0"), ("3", "0"), ("2", "0.01")):
        args = ["--patches", str(patches), "--hidden", hidden, "--lambda", lam, "--beta", "0.5", "--rho", "0.1",
                *dir_args, *_solver_args(iterations=3)]
        result = CliRunner().invoke(q1_sweep.app, args)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "plots" / "h2_l0.01_features.png").is_file()
    assert (tmp_path / "plots" / "h2_l0.01_curve.csv").is_file()
    numbers = json.loads((tmp_path / "res" / "h3_l0.json").read_text())
    assert numbers["hidden"] == 3 and numbers["lam"] == 0.0

    # The grid shrinks to hidden [2] x lambda [0, 0.01]: h3_l0 is stale and must not appear.
    summary_args = ["--hidden", "2", "--lambda", "0", "0.01", "--artifacts", str(dirs["--artifacts"]),
                    "--results", str(dirs["--results"]), "--figure", str(tmp_path / "grid.png"),
                    "--table-out", str(tmp_path / "sweep")]
    code, _ = invoke(q1_sweep_summary, summary_args, monkeypatch, capsys)
    assert code == 0
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert table[["hidden", "lambda"]].values.tolist() == [[2, 0.0], [2, 0.01]]
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert "| hidden | lambda |" in (tmp_path / "sweep.md").read_text()

    # A grid value without its files is a one-line user error naming the missing file.
    summary_args[1] = "5"
    code, lines = invoke(q1_sweep_summary, summary_args, monkeypatch, capsys)
    assert code == 2 and len(lines) == 1 and "h5_l0.json: missing (run `dvc repro`" in lines[0]


def test_search_end_to_end_writes_table_and_chooses_one_pair(tmp_path, patches):
    args = ["--patches", str(patches), "--hidden", "3", "--beta", "0.1", "--beta", "1", "--rho", "0.1",
            "--min_r2", "0.01", "--table-out", str(tmp_path / "search"), "--heatmap", str(tmp_path / "heat.png"),
            "--features", str(tmp_path / "features.png"), *_solver_args(iterations=3)]
    result = CliRunner().invoke(q1_search.app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "search.csv")
    assert table[["beta", "rho"]].values.tolist() == [[0.1, 0.1], [1.0, 0.1]]
    assert table["chosen"].sum() == 1
    assert "chosen" in (tmp_path / "search.md").read_text()
    assert (tmp_path / "heat.png").stat().st_size > 0 and (tmp_path / "features.png").stat().st_size > 0


def test_saved_network_round_trip(tmp_path):
    model = SparseAutoencoder(16, 3, 0.001, 0.5, 0.1)
    params = model.init_params(np.random.default_rng(0))
    save_network(tmp_path / "n.npz", model, params)
    loaded_model, loaded = load_network(tmp_path / "n.npz")
    assert loaded_model == model
    for name in params:
        np.testing.assert_array_equal(loaded[name], params[name])


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_network_file_is_one_line_naming_it(tmp_path, keep):
    model = SparseAutoencoder(16, 3, 0.001, 0.5, 0.1)
    path = tmp_path / "n.npz"
    save_network(path, model, model.init_params(np.random.default_rng(0)))
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data))])
    with pytest.raises(UserError) as err:
        load_network(path)
    assert str(err.value).startswith(f"{path}: not a readable .npz file (") and "\n" not in str(err.value)


def test_a_network_file_without_its_hyperparameters_is_one_line(tmp_path):
    np.savez(tmp_path / "n.npz", W1=np.zeros((3, 16)))
    with pytest.raises(UserError, match=r"n\.npz: missing arrays W2, b1, b2, beta, lam, n_hidden, n_in, rho; run"):
        load_network(tmp_path / "n.npz")
