"""What the real command line shows: bad parameters, sizes too big for memory, divergence, usage mistakes, --help,
interrupts and outputs that cannot be replaced.

Every stage runs as `python -m pipeline.<study>.<stage>` in a `Project` folder (its own params.yaml and tiny
data). The table of every invalid parameter of every stage is in tests/unit/test_config.py (in-process); here
a few of them go end to end: exit 2, one `error: ...` line, no traceback, nothing written.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.q1 import preprocess, search, sweep, sweep_summary
from pipeline.q1 import train as q1_train
from pipeline.q2 import embeddings, predict, summary
from pipeline.q2 import train as q2_train
from pipeline.q3 import compare
from pipeline.q3 import train as q3_train
from pipeline.report import write
from tests.conftest import Project, Watched, run_stage, stage_env

pytestmark = pytest.mark.slow  # each test starts one or more Python processes
STAGES = (preprocess, search, q1_train, sweep, sweep_summary, q2_train, summary, predict, embeddings, q3_train,
          compare, write)
ONE_GRU = dict(Project.TINY["q3.models"]["gru"])  # a valid q3.models entry

# (stage, its arguments, {params.yaml key: bad value}, the one error line after "error: params.yaml ")
BAD = [
    ("pipeline.q1.preprocess", [], {"q1.preprocess.low": 0.9, "q1.preprocess.high": 0.1},
     "q1.preprocess.low = 0.9 must be < q1.preprocess.high = 0.1"),
    ("pipeline.q1.train", [], {"q1.hidden": 64.5}, "q1.hidden = 64.5: must be a positive integer"),
    ("pipeline.q1.search", [], {"q1.search.beta": []}, "q1.search.beta = []: must be a non-empty list"),
    ("pipeline.q1.sweep", [], {"q1.sweep.hidden": [5.5]}, "q1.sweep.hidden[0] = 5.5: must be a positive integer"),
    ("pipeline.q1.sweep_summary", [], {"q1.sweep.lambda": [0, -0.5]}, "q1.sweep.lambda[1] = -0.5: must be >= 0"),
    ("pipeline.q2.train", ["d4_p8"], {"q2.sizes.d4_p8.lr": "fast"}, "q2.sizes.d4_p8.lr = 'fast': must be a finite "
                                                                    "number"),
    ("pipeline.q2.train", ["d32_p256"], {}, "q2.sizes.d32_p256 = None: missing (add the entry to params.yaml)"),
    ("pipeline.q2.summary", [], {"q2.sizes": {}}, "q2.sizes = {}: must be a non-empty mapping"),
    ("pipeline.q2.predict", [], {"q2.predict.count": 0}, "q2.predict.count = 0: must be a positive integer"),
    ("pipeline.q2.embeddings", [], {"q2.embeddings.words": " , "}, "q2.embeddings.words = ' , ': no word given"),
    ("pipeline.q3.train", ["gru"], {"q3.standardise": "maybe"}, "q3.standardise = 'maybe': must be true or false"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.clip": "off"}, "q3.models.gru.clip = 'off': must be a finite "
                                                                  "number"),
    ("pipeline.q2.train", ["d4_p8"], {"q2.seeds": [0, -1]}, "q2.seeds[1] = -1: must be an integer >= 0"),
    ("pipeline.q3.train", ["gru"], {"q3.seeds": []}, "q3.seeds = []: must be a non-empty list"),
    ("pipeline.q3.train", ["gru"], {"q3.seeds": [1, 1]}, "q3.seeds = [1, 1]: values must be distinct"),
    ("pipeline.q3.train", ["gru"], {"q3.seeds": [-1]}, "q3.seeds[0] = -1: must be an integer >= 0"),
    ("pipeline.q3.baseline", [], {"q3.seeds": [0, 0]}, "q3.seeds = [0, 0]: values must be distinct"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.rotation": 200},
     "q3.models.gru.rotation = 200: must be in [0, 180] (degrees)"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.scale": 1.0}, "q3.models.gru.scale = 1.0: must be in [0, 1)"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.jitter": -1}, "q3.models.gru.jitter = -1: must be in [0, 1]"),
    ("pipeline.q3.compare", [], {"q3.models.gru-2": ONE_GRU},
     "q3.models (key) = 'gru-2': must use only letters, digits and _"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.cell": "transformer"},
     "q3.models.gru.cell = 'transformer': must be one of rnn, lstm, gru"),
    ("pipeline.q3.train", ["gru"], {"q3.models.gru.layers": 0}, "q3.models.gru.layers = 0: must be a positive integer"),
    ("pipeline.q3.train", ["transformer"], {}, "q3.models.transformer = None: missing (add the entry to params.yaml)"),
    ("pipeline.report.write", [], {"q1.sgd.lrr": 0.1},
     "q1.sgd.lrr: unknown key (known: epochs, batch_size, lr, momentum)"),
]


def no_staging_left(project: Project) -> bool:
    staging = project.root / ".staging"
    return not staging.exists() or not any(staging.iterdir())


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(("module", "args", "changes", "line"), BAD, ids=[f"{b[0]}: {b[3][:40]}" for b in BAD])
def test_an_invalid_parameter_stops_the_stage_before_any_work(tmp_path, module, args, changes, line):
    project = Project(tmp_path / "p")
    for key, value in changes.items():
        project.set(key, value)
    before = project.files()
    proc = run_stage(module, args, cwd=project.root)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: params.yaml {line}"]
    assert project.files() == before  # stopped before writing anything


# stage, its arguments, the size key and its huge value, how the error line names and shows it
HUGE = [
    ("pipeline.q1.train", [], "q1.hidden", 10**9, "q1.hidden = 1000000000"),
    ("pipeline.q1.search", [], "q1.search.hidden", 10**9, "q1.search.hidden = 1000000000"),
    ("pipeline.q2.train", ["d4_p8"], "q2.sizes.d4_p8.hidden", 10**9,
     "q2.sizes.d4_p8 = {'dim': 4, 'hidden': 1000000000}"),
    ("pipeline.q3.train", ["gru"], "q3.models.gru.hidden", 10**7,
     "q3.models.gru = {'layers': 1, 'hidden': 10000000, 'head': '4'}"),
    ("pipeline.q3.train", ["gru"], "q3.models.gru.layers", 10**6,  # every layer's BPTT buffers add up
     "q3.models.gru = {'layers': 1000000, 'hidden': 4, 'head': '4'}"),
]


@pytest.mark.parametrize(("module", "args", "key", "value", "shown"), HUGE, ids=[h[2] for h in HUGE])
def test_a_size_too_big_for_memory_is_one_line_before_allocating(tmp_path, module, args, key, value, shown):
    project = Project(tmp_path / "p").set(key, value)
    before = project.files()
    proc = run_stage(module, args, cwd=project.root)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: params.yaml {shown}: the run would need about "), line
    assert "of memory, more than half of this machine's " in line and line.endswith("; lower it"), line
    assert project.files() == before


def test_a_bad_sweep_grid_and_bad_params_are_reported_together(tmp_path):
    project = Project(tmp_path / "p").set("q1.rho", 1.5).set("q1.sweep.hidden", [5.5]).set("q1.sweep.lambda", ["abc"])
    proc = run_stage("pipeline.q1.sweep", [], cwd=project.root)
    assert proc.returncode == 2 and sorted(proc.stderr.strip().splitlines()) == [
        "error: params.yaml q1.rho = 1.5: must be in (0, 1)",
        "error: params.yaml q1.sweep.hidden[0] = 5.5: must be a positive integer",
        "error: params.yaml q1.sweep.lambda[0] = 'abc': must be a finite number",
    ]


# stage, its arguments, the huge learning rate's key and value, the changes that make the run tiny
DIVERGING = [
    ("pipeline.q1.train", [], "q1.sgd.lr", 1e300, {"q1.solver": "sgd", "q1.sgd.epochs": 2, "q1.sgd.batch_size": 8}),
    ("pipeline.q2.train", ["d4_p8"], "q2.sizes.d4_p8.lr", 1e300, {}),
    ("pipeline.q2.train", ["d4_p8"], "q2.sizes.d4_p8.lr", 1e6, {}),  # finite losses, but 100x the first: models.trainer
    ("pipeline.q3.train", ["rnn"], "q3.models.rnn.lr", 1e300, {}),
]


@pytest.mark.parametrize(("module", "args", "key", "lr", "changes"), DIVERGING,
                         ids=[f"{d[0]} {d[2]}={d[3]:g}" for d in DIVERGING])
def test_divergence_stops_with_one_line_naming_epoch_and_learning_rate(tmp_path, module, args, key, lr, changes):
    project = Project(tmp_path / "p")  # q1 train reads data1 itself: no q1_preprocess run needed
    for dotted, value in {**changes, key: lr}.items():
        project.set(dotted, value)
    before = project.files()
    proc = run_stage(module, args, cwd=project.root)
    assert proc.returncode == 2, proc.stderr
    errors = error_lines(proc)
    assert len(errors) == 1, proc.stderr
    assert "diverged at epoch 1" in errors[0] and f"{key} (now {lr})" in errors[0], errors[0]
    assert project.files() == before and no_staging_left(project)  # no NaN results, no log


@pytest.mark.parametrize(("module", "args", "line"), [
    ("pipeline.q2.train", ["d4_p8", "--bogus", "1"], "error: No such option: --bogus"),
    ("pipeline.q2.train", [], "error: Missing argument 'name'."),
    ("pipeline.q1.train", ["extra"], "error: Got unexpected extra argument(s) (extra)"),
    ("pipeline.q3.evaluate", ["--model", "gru", "--data", "data/raw/data3.h5", "--split", "valid"],
     "error: --split = 'valid': must be test or train"),
])
def test_other_command_line_mistakes_are_one_line_too(tmp_path, module, args, line):
    project = Project(tmp_path / "p")
    proc = run_stage(module, args, cwd=project.root)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [line], proc.stderr


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.__name__)
def test_the_help_of_every_stage_lists_the_params_keys_it_reads(tmp_path, stage):
    proc = run_stage(stage.__name__, ["--help"], cwd=tmp_path)  # no params.yaml needed
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert "params.yaml keys read (values live only there):" in proc.stdout
    listed = [line.strip().split(": ", 1)[0] for line in proc.stdout.split("values live only there):")[1].splitlines()]
    assert [key for key in stage.PARAMS if key not in listed] == [], proc.stdout


def test_the_help_of_q3_train_names_its_model_entry_and_shared_keys(tmp_path):
    proc = run_stage("pipeline.q3.train", ["--help"], cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr
    assert "q3.models.{model}: one q3_train@<model> per entry" in proc.stdout
    assert "q3.momentum: classical momentum alpha" in proc.stdout


INTERRUPTED = "interrupted: earlier outputs are unchanged; run `dvc repro` to finish"


def ignores_sigint(pid: int) -> bool:
    """Whether the process `pid` ignores SIGINT (its SigIgn mask in /proc, Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(re.search(r"^SigIgn:\s*([0-9a-f]+)$", status, re.MULTILINE).group(1), 16)
    return bool(mask >> (signal.SIGINT - 1) & 1)


@pytest.mark.faults
@pytest.mark.parametrize(("signum", "sigint"), [(signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.SIG_DFL),
                                                (signal.SIGINT, signal.SIG_IGN)], ids=["SIGTERM", "SIGINT",
                                                                                       "SIGINT-ignored-at-start"])
def test_an_interrupted_stage_prints_one_line_and_exits_130(tmp_path, signum, sigint):
    project = Project(tmp_path / "p").set("q2.sizes.d4_p8.epochs", 100000).set("q2.patience", 100000)
    # a shell's background job starts with SIGINT ignored (Python then keeps ignoring it): choose the disposition
    with Watched([sys.executable, "-m", "pipeline.q2.train", "d4_p8"], project.root, stage_env(), sigint=sigint) as job:
        job.wait_for("epoch 1/100000:")  # training is under way
        if sigint == signal.SIG_IGN:  # Ctrl-C does nothing to it (the system drops it): it trains on until SIGTERM
            assert ignores_sigint(job.process.pid)
            job.process.send_signal(signal.SIGINT)
            signum = signal.SIGTERM
        job.process.send_signal(signum)
        rest = job.rest()
    assert job.process.returncode == 130 and "Traceback" not in rest, rest
    assert rest.count(INTERRUPTED) == 1 and rest.rstrip().endswith(INTERRUPTED), rest[-500:]
    assert not [folder for folder in ("artifacts", "results", "plots", "metrics", "logs")
                if (project.root / folder).exists()]
    assert no_staging_left(project)


@pytest.mark.parametrize(("immutable", "line"), [
    # the second output of q1_preprocess: the first, already moved aside, is moved back
    ("results/q1/preprocess", "error: results/q1/preprocess: cannot be replaced (Operation not permitted); "
                              "earlier outputs are unchanged"),
    # where the new outputs are written: a plain OSError
    (".staging", "error: .staging/{id}: Operation not permitted; earlier outputs are unchanged"),
], ids=["output-folder", "staging-folder"])
def test_outputs_that_cannot_be_written_are_one_line_and_stay_byte_identical(tmp_path, immutable, line):
    project = Project(tmp_path / "p")
    first = run_stage("pipeline.q1.preprocess", cwd=project.root)
    assert first.returncode == 0, first.stderr
    before = {f: (project.root / f).read_bytes() for f in project.files()}
    assert "results/q1/preprocess/summary.json" in before
    folder = project.root / immutable
    folder.mkdir(exist_ok=True)
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:  # root ignores chmod
        pytest.skip("chattr +i is not available here")
    try:
        proc = run_stage("pipeline.q1.preprocess", cwd=project.root)
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    prefix, _, suffix = line.partition("{id}")
    assert len(lines) == 1 and lines[0].startswith(prefix) and lines[0].endswith(suffix), proc.stderr
    assert {f: (project.root / f).read_bytes() for f in project.files()} == before
    assert no_staging_left(project)
