"""Every invalid parameter of every stage stops the real command line before any work.

Each case runs `python -m pipeline.<stage>` with options that are valid except one (or a pair for
the rules that relate two keys). The data paths do not exist, so a stage that skipped a check would
fail later with a different message (file not found) or write outputs: the case then fails.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, make_data1, make_data2, make_data3, run_stage

MISSING = "missing.h5"  # relative to the case's tmp_path: never created

Q1_SOLVER = {"--holdout": "0.1", "--iterations": "3", "--epochs": "2", "--batch-size": "16", "--lr": "0.1",
             "--momentum": "0.9", "--solver": "lbfgs", "--dtype": "float32", "--seed": "0"}
VALID = {
    "q1_preprocess": {"--data": MISSING, "--out": "out/p.npy", "--figure": "out/p.png", "--clip-std": "3",
                      "--low": "0.1", "--high": "0.9", "--sample-size": "10", "--seed": "0"},
    "q1_train": {"--patches": "missing.npy", "--hidden": "8", "--lambda": "0.001", "--beta": "1", "--rho": "0.05",
                 **Q1_SOLVER, "--window": "4", "--shown": "4", "--model-out": "out/ae.npz",
                 "--metrics": "out/m.json", "--plots": "out"},
    "q1_search": {"--patches": "missing.npy", "--hidden": "8", "--lambda": "0.001", "--beta": ["0.1", "1"],
                  "--rho": ["0.01", "0.05"], "--min_r2": "0.5", **Q1_SOLVER, "--table-out": "out/s",
                  "--heatmap": "out/h.png", "--features": "out/f.png"},
    "q1_sweep": {"--patches": "missing.npy", "--hidden": "10", "--lambda": "0", "--beta": "1", "--rho": "0.05",
                 **Q1_SOLVER, "--artifacts": "out", "--plots": "out", "--results": "out"},
    "q1_sweep_summary": {"--hidden": ["10", "50"], "--lambda": ["0", "0.001"], "--artifacts": "out",
                         "--results": "out", "--figure": "out/f.png", "--table-out": "out/t"},
    "q2_train": {"--name": "d4_p8", "--dim": "4", "--hidden": "8", "--data": MISSING, "--batch-size": "20",
                 "--lr": "0.5", "--momentum": "0.85", "--epochs": "3", "--patience": "2", "--min-delta": "0",
                 "--init-std": "0.01", "--schedule": "cosine", "--lr-min": "0", "--gamma": "0.5",
                 "--step-epochs": "10", "--train-eval-size": "100", "--dtype": "float32", "--seed": "0",
                 "--blas-threads": "1", "--artifacts": "out", "--plots": "out", "--results": "out"},
    "q2_summary": {"--params-file": "q2:\n  sizes:\n    d4_p8: {dim: 4, hidden: 8}\n", "--results": "out",
                   "--plots": "out", "--metrics": "out/q2.json", "--figure": "out/v.png"},
    "q2_predict": {"--data": MISSING, "--network": "d4_p8", "--count": "3", "--top": "5", "--seed": "0",
                   "--artifacts": "out", "--results": "out", "--figure": "out/t.png"},
    "q2_embeddings": {"--data": MISSING, "--network": "d4_p8", "--words": "w1,w2", "--neighbours": "3",
                      "--artifacts": "out", "--results": "out", "--figure": "out/e.png"},
    "q3_train train": {"--model": "gru", "--data": MISSING, "--hidden": "8", "--head": "4", "--lr": "0.1",
                       "--schedule": "cosine", "--lr-min": "0", "--epochs": "2", "--patience": "2", "--clip": "5",
                       "--recurrent-init": "glorot", "--recurrent-gain": "1", "--momentum": "0.85",
                       "--batch-size": "8", "--val-fraction": "0.1", "--standardise": "true",
                       "--train-eval-size": "20", "--workers": "1", "--seed": "0", "--artifacts": "out",
                       "--plots": "out", "--results": "out"},
    "q3_train evaluate": {"--model": "gru", "--data": MISSING, "--split": "test", "--artifacts": "out"},
    "q3_compare": {"--params": "q3:\n  models:\n    rnn: {}\n    gru: {}\n", "--results": "out", "--plots": "out",
                   "--metrics": "out/q3.json"},
}
PARAMS_FILE_OPTIONS = ("--params-file", "--params")  # their value is the file's text, written by the test

# (stage, {option: bad value, ...}, the params.yaml key named, the bad value as the message shows it)
CASES = [
    ("q1_preprocess", {"--clip-std": "0.0"}, "q1.preprocess.clip_std", "0.0"),
    ("q1_preprocess", {"--clip-std": "nan"}, "q1.preprocess.clip_std", "nan"),
    ("q1_preprocess", {"--low": "0.9", "--high": "0.1"}, "q1.preprocess.low", "0.9"),
    ("q1_preprocess", {"--low": "0.5", "--high": "0.5"}, "q1.preprocess.low", "0.5"),
    ("q1_preprocess", {"--sample-size": "0"}, "q1.preprocess.sample_size", "0"),
    ("q1_preprocess", {"--seed": "-1"}, "q1.preprocess.seed", "-1"),
    ("q1_train", {"--hidden": "0"}, "q1.hidden", "0"),
    ("q1_train", {"--lambda": "-0.5"}, "q1.lambda", "-0.5"),
    ("q1_train", {"--beta": "-0.5"}, "q1.beta", "-0.5"),
    ("q1_train", {"--rho": "0.0"}, "q1.rho", "0.0"),
    ("q1_train", {"--rho": "1.0"}, "q1.rho", "1.0"),
    ("q1_train", {"--solver": "adam"}, "q1.solver", "'adam'"),
    ("q1_train", {"--dtype": "float16"}, "q1.dtype", "'float16'"),
    ("q1_train", {"--seed": "-1"}, "q1.seed", "-1"),
    ("q1_train", {"--holdout": "0.0"}, "q1.holdout", "0.0"),
    ("q1_train", {"--holdout": "1.0"}, "q1.holdout", "1.0"),
    ("q1_train", {"--iterations": "0"}, "q1.lbfgs.iterations", "0"),
    ("q1_train", {"--log-every": "0"}, "q1.lbfgs.log_every", "0"),
    ("q1_train", {"--epochs": "0"}, "q1.sgd.epochs", "0"),
    ("q1_train", {"--batch-size": "0"}, "q1.sgd.batch_size", "0"),
    ("q1_train", {"--lr": "0.0"}, "q1.sgd.lr", "0.0"),
    ("q1_train", {"--lr": "inf"}, "q1.sgd.lr", "inf"),
    ("q1_train", {"--momentum": "1.0"}, "q1.sgd.momentum", "1.0"),
    ("q1_train", {"--momentum": "-0.5"}, "q1.sgd.momentum", "-0.5"),
    ("q1_train", {"--window": "0"}, "q1.quality.window", "0"),
    ("q1_train", {"--shown": "0"}, "q1.shown", "0"),
    ("q1_search", {"--hidden": "0"}, "q1.search.hidden", "0"),
    ("q1_search", {"--lambda": "-0.5"}, "q1.search.lambda", "-0.5"),
    ("q1_search", {"--beta": ["1", "-0.5"]}, "q1.search.beta[1]", "-0.5"),
    ("q1_search", {"--beta": ["1", "1"]}, "q1.search.beta", "[1.0, 1.0]"),
    ("q1_search", {"--rho": ["0.05", "1.5"]}, "q1.search.rho[1]", "1.5"),
    ("q1_search", {"--min_r2": "1.5"}, "q1.search.min_r2", "1.5"),
    ("q1_search", {"--iterations": "0"}, "q1.search.iterations", "0"),
    ("q1_search", {"--solver": "adam"}, "q1.solver", "'adam'"),
    ("q1_search", {"--lr": "-0.5"}, "q1.sgd.lr", "-0.5"),
    ("q1_search", {"--momentum": "1.0"}, "q1.sgd.momentum", "1.0"),
    ("q1_search", {"--batch-size": "0"}, "q1.sgd.batch_size", "0"),
    ("q1_search", {"--holdout": "1.5"}, "q1.holdout", "1.5"),
    ("q1_sweep", {"--hidden": "0"}, "q1.sweep.hidden", "0"),
    ("q1_sweep", {"--lambda": "-0.5"}, "q1.sweep.lambda", "-0.5"),
    ("q1_sweep", {"--lambda": "abc"}, "q1.sweep.lambda", "'abc'"),
    ("q1_sweep", {"--beta": "-0.5"}, "q1.beta", "-0.5"),
    ("q1_sweep", {"--rho": "1.5"}, "q1.rho", "1.5"),
    ("q1_sweep", {"--solver": "adam"}, "q1.solver", "'adam'"),
    ("q1_sweep", {"--lr": "0.0"}, "q1.sgd.lr", "0.0"),
    ("q1_sweep", {"--momentum": "1.0"}, "q1.sgd.momentum", "1.0"),
    ("q1_sweep", {"--epochs": "0"}, "q1.sgd.epochs", "0"),
    ("q1_sweep", {"--holdout": "0.0"}, "q1.holdout", "0.0"),
    ("q1_sweep_summary", {"--hidden": ["10", "0"]}, "q1.sweep.hidden[1]", "0"),
    ("q1_sweep_summary", {"--lambda": ["0", "-0.5"]}, "q1.sweep.lambda[1]", "-0.5"),
    ("q2_train", {"--name": "../d4"}, "q2.sizes (key)", "'../d4'"),
    ("q2_train", {"--dim": "0"}, "q2.sizes.d4_p8.dim", "0"),
    ("q2_train", {"--hidden": "-3"}, "q2.sizes.d4_p8.hidden", "-3"),
    ("q2_train", {"--epochs": "0"}, "q2.sizes.d4_p8.epochs", "0"),
    ("q2_train", {"--batch-size": "0"}, "q2.batch_size", "0"),
    ("q2_train", {"--lr": "0.0"}, "q2.lr", "0.0"),
    ("q2_train", {"--lr": "nan"}, "q2.lr", "nan"),
    ("q2_train", {"--momentum": "1.0"}, "q2.momentum", "1.0"),
    ("q2_train", {"--patience": "0"}, "q2.patience", "0"),
    ("q2_train", {"--min-delta": "-0.5"}, "q2.min_delta", "-0.5"),
    ("q2_train", {"--init-std": "0.0"}, "q2.init_std", "0.0"),
    ("q2_train", {"--schedule": "linear"}, "q2.schedule", "'linear'"),
    ("q2_train", {"--lr-min": "-0.5"}, "q2.lr_min", "-0.5"),
    ("q2_train", {"--lr-min": "0.5"}, "q2.lr_min", "0.5"),
    ("q2_train", {"--gamma": "1.5"}, "q2.gamma", "1.5"),
    ("q2_train", {"--gamma": "0.0"}, "q2.gamma", "0.0"),
    ("q2_train", {"--step-epochs": "0"}, "q2.step_epochs", "0"),
    ("q2_train", {"--train-eval-size": "0"}, "q2.train_eval_size", "0"),
    ("q2_train", {"--dtype": "float16"}, "q2.dtype", "'float16'"),
    ("q2_train", {"--seed": "-1"}, "q2.seed", "-1"),
    ("q2_train", {"--blas-threads": "0"}, "q2.blas_threads", "0"),
    ("q2_summary", {"--params-file": "q2:\n  sizes:\n    d4_p8: {dim: 0, hidden: 8}\n"}, "q2.sizes.d4_p8.dim", "0"),
    ("q2_summary", {"--params-file": "q2:\n  sizes:\n    d4_p8: {dim: 4}\n"}, "q2.sizes.d4_p8.hidden", "None"),
    ("q2_summary", {"--params-file": "q2:\n  sizes:\n    d4_p8: {dim: 4, hidden: 2.5}\n"}, "q2.sizes.d4_p8.hidden",
     "2.5"),
    ("q2_summary", {"--params-file": "q2:\n  sizes:\n    d4/p8: {dim: 4, hidden: 8}\n"}, "q2.sizes (key)",
     "'d4/p8'"),
    ("q2_summary", {"--params-file": "q2:\n  sizes: {}\n"}, "q2.sizes", "{}"),
    ("q2_predict", {"--network": "../d4"}, "q2.predict.network", "'../d4'"),
    ("q2_predict", {"--count": "0"}, "q2.predict.count", "0"),
    ("q2_predict", {"--top": "0"}, "q2.predict.top", "0"),
    ("q2_predict", {"--seed": "-1"}, "q2.predict.seed", "-1"),
    ("q2_embeddings", {"--network": "d4 p8"}, "q2.embeddings.network", "'d4 p8'"),
    ("q2_embeddings", {"--words": " , "}, "q2.embeddings.words", "' , '"),
    ("q2_embeddings", {"--neighbours": "0"}, "q2.embeddings.neighbours", "0"),
    ("q3_train train", {"--model": "transformer"}, "q3.models (key)", "'transformer'"),
    ("q3_train train", {"--hidden": "0"}, "q3.models.gru.hidden", "0"),
    ("q3_train train", {"--head": "64,x"}, "q3.models.gru.head", "'64,x'"),
    ("q3_train train", {"--head": "0"}, "q3.models.gru.head", "'0'"),
    ("q3_train train", {"--lr": "0.0"}, "q3.models.gru.lr", "0.0"),
    ("q3_train train", {"--lr": "-inf"}, "q3.models.gru.lr", "-inf"),
    ("q3_train train", {"--schedule": "linear"}, "q3.models.gru.schedule", "'linear'"),
    ("q3_train train", {"--lr-min": "-0.5"}, "q3.models.gru.lr_min", "-0.5"),
    ("q3_train train", {"--lr-min": "0.5"}, "q3.models.gru.lr_min", "0.5"),
    ("q3_train train", {"--epochs": "0"}, "q3.models.gru.epochs", "0"),
    ("q3_train train", {"--patience": "0"}, "q3.models.gru.patience", "0"),
    ("q3_train train", {"--clip": "-0.5"}, "q3.models.gru.clip", "-0.5"),
    ("q3_train train", {"--recurrent-init": "zeros"}, "q3.models.gru.recurrent_init", "'zeros'"),
    ("q3_train train", {"--recurrent-gain": "0.0"}, "q3.models.gru.recurrent_gain", "0.0"),
    ("q3_train train", {"--momentum": "1.0"}, "q3.momentum", "1.0"),
    ("q3_train train", {"--batch-size": "0"}, "q3.batch_size", "0"),
    ("q3_train train", {"--val-fraction": "0.0"}, "q3.val_fraction", "0.0"),
    ("q3_train train", {"--val-fraction": "1.0"}, "q3.val_fraction", "1.0"),
    ("q3_train train", {"--standardise": "maybe"}, "q3.standardise", "'maybe'"),
    ("q3_train train", {"--train-eval-size": "0"}, "q3.train_eval_size", "0"),
    ("q3_train train", {"--workers": "0"}, "q3.workers", "0"),
    ("q3_train train", {"--seed": "-1"}, "q3.seed", "-1"),
    ("q3_train evaluate", {"--split": "valid"}, "--split", "'valid'"),
    ("q3_compare", {"--params": "q3:\n  models:\n    rnn: {}\n    transformer: {}\n"}, "q3.models (key)",
     "'transformer'"),
    # a value of the wrong type, rejected by Typer itself: the key comes from the option's help text
    ("q1_preprocess", {"--sample-size": "10.5"}, "q1.preprocess.sample_size", "'10.5'"),
    ("q1_train", {"--hidden": "64.5"}, "q1.hidden", "'64.5'"),
    ("q1_train", {"--beta": "strong"}, "q1.beta", "'strong'"),
    ("q1_search", {"--beta": ["1", "x"]}, "q1.search.beta", "'x'"),
    ("q1_sweep_summary", {"--hidden": ["10", "5.5"]}, "q1.sweep.hidden", "'5.5'"),
    ("q2_train", {"--hidden": "64.5"}, "q2.sizes.<name>.hidden", "'64.5'"),
    ("q2_train", {"--lr": "fast"}, "q2.lr", "'fast'"),
    ("q3_train train", {"--epochs": "2.5"}, "q3.models.<m>.epochs", "'2.5'"),
    ("q3_train train", {"--clip": "off"}, "q3.models.<m>.clip", "'off'"),
]


def _argv(options: dict[str, str | list[str]], tmp_path) -> list[str]:
    """Options -> argv: lists repeat the option, paths go under tmp_path, params-file texts are written there."""
    argv = []
    for option, value in options.items():
        if option in PARAMS_FILE_OPTIONS:
            (tmp_path / "params.yaml").write_text(value)
            value = tmp_path / "params.yaml"
        elif option in ("--data", "--patches") or value == "out" or str(value).startswith("out/"):
            value = tmp_path / value
        argv += [item for v in (value if isinstance(value, list) else [value]) for item in (option, str(v))]
    return argv


@pytest.mark.parametrize(("stage", "bad", "key", "shown"), CASES, ids=[f"{c[0]}: {c[2]} = {c[3]}" for c in CASES])
def test_invalid_parameter_stops_before_any_work(stage, bad, key, shown, tmp_path):
    module, *command = stage.split()
    proc = run_stage(f"pipeline.{module}", [*command, *_argv({**VALID[stage], **bad}, tmp_path)])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # only the bad option: the valid ones pass
    line = lines[0]
    assert line.startswith("error: ") and f"{key} = {shown}" in line, line
    assert not (tmp_path / "out").exists()  # stopped before writing anything


# stage, the tiny data file, its options (valid apart from the huge --lr), the params.yaml key of that rate
DIVERGING = [
    ("q1_train", make_data1, {"--patches": "p.npy", "--solver": "sgd", "--epochs": "2", "--batch-size": "8",
                              "--hidden": "4", "--window": "4", "--model-out": "out/ae.npz", "--metrics": "out/m.json",
                              "--plots": "out"}, "q1.sgd.lr"),
    ("q2_train", make_data2, {"--data": "data.h5", "--name": "tiny", "--dim": "4", "--hidden": "8", "--epochs": "2",
                              "--artifacts": "out", "--plots": "out", "--results": "out"}, "q2.lr"),
    ("q3_train train", make_data3, {"--data": "data.h5", "--model": "rnn", "--hidden": "4", "--epochs": "2",
                                    "--artifacts": "out", "--plots": "out", "--results": "out"}, "q3.models.rnn.lr"),
]


@pytest.mark.parametrize(("stage", "make_data", "options", "key"), DIVERGING, ids=[row[0] for row in DIVERGING])
def test_divergence_stops_with_one_line_naming_epoch_and_learning_rate(stage, make_data, options, key, tmp_path):
    data = make_data(tmp_path / "data.h5")
    if stage == "q1_train":  # q1 trains on the preprocessed patches
        prep = run_stage("pipeline.q1_preprocess", ["--data", data, "--out", tmp_path / "p.npy", "--figure",
                                                     tmp_path / "p.png"])
        assert prep.returncode == 0, prep.stderr
    module, *command = stage.split()
    proc = run_stage(f"pipeline.{module}", [*command, *_argv({**options, "--lr": "1e300"}, tmp_path)])
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in proc.stderr and len(errors) == 1, proc.stderr
    assert "diverged at epoch 1" in errors[0] and f"{key} (now 1e+300)" in errors[0], errors[0]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.suffix in (".json", ".npz")]  # no NaN results


def test_a_value_of_the_wrong_type_names_key_value_and_option(tmp_path):
    proc = run_stage("pipeline.q2_train", _argv({**VALID["q2_train"], "--hidden": "64.5"}, tmp_path))
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "error: params.yaml q2.sizes.<name>.hidden = '64.5' (option --hidden): Input should be a valid integer, "
        "unable to parse string as an integer"]


@pytest.mark.parametrize(("args", "line"), [
    (["--bogus", "1"], "error: No such option: --bogus"),
    (["--dim", "4"], "error: Missing option '--name'."),
])
def test_other_command_line_mistakes_are_one_line_too(args, line):
    proc = run_stage("pipeline.q2_train", args)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [line]


def test_help_still_works():
    proc = run_stage("pipeline.q3_train", ["train", "--help"])
    assert proc.returncode == 0 and "params.yaml q3.models.<m>.clip" in proc.stdout and not proc.stderr


@pytest.mark.parametrize(("signum", "message"), [(signal.SIGTERM, True), (signal.SIGINT, False)])
def test_an_interrupted_stage_exits_130(tmp_path, signum, message):
    make_data2(tmp_path / "data.h5")
    argv = _argv({"--data": "data.h5", "--name": "tiny", "--dim": "4", "--hidden": "8", "--epochs": "100000",
                  "--patience": "100000", "--artifacts": "out", "--plots": "out", "--results": "out"}, tmp_path)
    # a shell's background job starts with SIGINT ignored (Python then keeps ignoring it): restore the default
    job = subprocess.Popen([sys.executable, "-m", "pipeline.q2_train", *argv], cwd=ROOT, stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert "epoch 1:" in job.stderr.readline()  # training is under way
        job.send_signal(signum)
        rest = job.communicate(timeout=60)[1]
    finally:
        job.kill()
    assert job.returncode == 130 and "Traceback" not in rest, rest
    interrupted = [line for line in rest.splitlines() if line.startswith("interrupted: ")]
    assert interrupted == (["interrupted: earlier outputs are unchanged; run `dvc repro` to finish"] if message else [])
    assert not (tmp_path / "out").exists()
