"""Shared fixtures: tiny HDF5 files in the course layouts, and a temporary project that stages run in.

A stage reads params.yaml and writes its outputs relative to the current directory (pipeline/common/paths.py),
so a test runs it inside `project`: a temporary folder holding a copy of the repository's params.yaml (pointed
at tiny data files) that the test may change with `project.set("q1.rho", 1.5)`.

Tests of interrupts and faults start a process as `Watched` and wait for events (a line printed, the output's end
when every process holding it has exited), each whole wait under the ceiling HANG that only a hang reaches, also on
a machine whose every core is busy with other jobs (`python -m tools.busy pytest -m faults`) and when pytest itself
was started with SIGINT ignored (a background job): the process starts with SIGINT at its default, as a terminal's
foreground job has it, unless the test asks otherwise.
"""

from __future__ import annotations

import copy
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from pipeline.common.errors import run

ROOT = Path(__file__).resolve().parents[1]
INJECT = ROOT / "tests" / "inject"  # sitecustomize.py: the faults EEE443_FAULT injects into stage processes
HANG = 600  # seconds: the ceiling of one wait for an event; the events come within seconds, minutes under load


def write_h5(path, **datasets):
    with h5py.File(path, "w") as h5:
        for key, value in datasets.items():
            h5[key] = value
    return path


def make_data1(path):
    """40 random RGB patches (40, 3, 16, 16) in [0, 1]."""
    rng = np.random.default_rng(0)
    return write_h5(path, data=rng.uniform(0, 1, size=(40, 3, 16, 16)))


def make_data2(path):
    """400 / 60 / 60 random 1-based trigrams and their 4th words, 250 words w0..w249."""
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 400), ("val", 60), ("test", 60)):
        parts[f"{split}x"] = rng.integers(1, 251, size=(n, 3))
        parts[f"{split}d"] = rng.integers(1, 251, size=n)
    parts["words"] = np.array([f"w{i}".encode() for i in range(250)])
    return write_h5(path, **parts)


def make_data3(path):
    """60 training and 12 test random sequences (N, 12, 3), classes in blocks, one-hot labels."""
    rng = np.random.default_rng(0)
    onehot = np.eye(6)
    return write_h5(
        path,
        trX=rng.standard_normal((60, 12, 3)), trY=onehot[np.repeat(np.arange(6), 10)],
        tstX=rng.standard_normal((12, 12, 3)), tstY=onehot[np.repeat(np.arange(6), 2)],
    )


@pytest.fixture
def tiny_data1(tmp_path):
    return make_data1(tmp_path / "data1.h5")


@pytest.fixture
def tiny_data2(tmp_path):
    return make_data2(tmp_path / "data2.h5")


@pytest.fixture
def tiny_data3(tmp_path):
    return make_data3(tmp_path / "data3.h5")


def set_key(tree: dict, dotted: str, value) -> None:
    """tree[a][b] = value for "a.b"; every level but the last must exist (a typo fails the test)."""
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node[key]
    node[leaf] = value


# q3.models entries in the default layout (names free; what an entry is comes from its cell, layers and recipe)
Q3_RECIPE = {"layers": 1, "hidden": 128, "head": "64", "schedule": "cosine", "lr_min": 0.0, "clip": 1.0,
             "recurrent_init": "orthogonal", "recurrent_gain": 1.0}
Q3_PER_CELL = {"rnn": {"lr": 0.02, "epochs": 80, "patience": 20}, "lstm": {"lr": 0.05, "epochs": 30, "patience": 10},
               "gru": {"lr": 0.1, "epochs": 30, "patience": 10}}
AUGMENTED = {"rotation": 20, "scale": 0.2, "jitter": 0.05}
PLAIN = {"rotation": 0, "scale": 0, "jitter": 0}


def q3_entry(cell: str, augmentation: dict = AUGMENTED, **changes) -> dict:
    """A q3.models entry: the shared recipe, the cell's lr/epochs/patience, the augmentation, then `changes`."""
    return {"cell": cell, **Q3_RECIPE, **Q3_PER_CELL[cell], **augmentation, **changes}


class Project:
    """A temporary project folder (the current directory while the test runs) with its own params.yaml.

    Starts from the repository's params.yaml with data.* pointing at tiny files under data/raw/ and small
    settings for the training stages (TINY); `set` changes a key, `run` runs a stage in-process.
    """

    TINY = {
        "q1.preprocess.sample_size": 10,
        "q1.hidden": 4, "q1.shown": 4, "q1.holdout": 0.2, "q1.quality.window": 4,
        "q1.lbfgs.iterations": 4, "q1.lbfgs.log_every": 2,
        "q1.search.hidden": 3, "q1.search.beta": [0.1, 1.0], "q1.search.rho": [0.1], "q1.search.min_r2": 0.01,
        "q1.search.iterations": 3,
        "q2.sizes": {"d4_p8": {"dim": 4, "hidden": 8, "epochs": 2, "lr": 0.5, "weight_decay": 0.0}},
        "q2.train_eval_size": 100,
        "q2.seeds": [0, 1],
        "q2.predict.network": "d4_p8", "q2.predict.count": 3, "q2.predict.top": 5,
        "q2.embeddings.network": "d4_p8", "q2.embeddings.words": "w1,w2", "q2.embeddings.neighbours": 3,
        "q3.models": {m: {"cell": m, "layers": 1, "hidden": 4, "head": "4", "lr": 0.1, "schedule": "cosine",
                          "lr_min": 0.0, "epochs": 2, "patience": 2, "clip": 5.0, "recurrent_init": "glorot",
                          "recurrent_gain": 1.0, "rotation": 0, "scale": 0, "jitter": 0}
                      for m in ("rnn", "lstm", "gru")},  # each entry named after its cell
        "q3.batch_size": 8, "q3.train_eval_size": 20, "q3.seeds": [0, 1],
    }

    def __init__(self, root: Path) -> None:
        self.root = root
        raw = root / "data" / "raw"
        raw.mkdir(parents=True)
        self.params = yaml.safe_load((ROOT / "params.yaml").read_text())
        self.params["data"] = {"data1": "data/raw/data1.h5", "data2": "data/raw/data2.h5",
                               "data3": "data/raw/data3.h5"}
        for maker, name in ((make_data1, "data1.h5"), (make_data2, "data2.h5"), (make_data3, "data3.h5")):
            maker(raw / name)
        for key, value in self.TINY.items():
            set_key(self.params, key, copy.deepcopy(value))
        self.save()

    def set(self, dotted: str, value) -> Project:
        set_key(self.params, dotted, value)
        return self.save()

    def save(self) -> Project:
        (self.root / "params.yaml").write_text(yaml.safe_dump(self.params, sort_keys=False))
        return self

    def run(self, module, *args, monkeypatch, capsys) -> tuple[int, list[str]]:
        """Run a stage module's Typer app in-process; return its exit code and stderr lines."""
        return invoke(module, list(args), monkeypatch, capsys)

    def files(self, folder: str = ".") -> set[str]:
        """Paths of every file under `folder`, relative to the project."""
        return {str(p.relative_to(self.root)) for p in (self.root / folder).rglob("*") if p.is_file()}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path)


def invoke(module, args, monkeypatch, capsys) -> tuple[int, list[str]]:
    """Run a stage's Typer app in-process as `python -m` would; return the exit code and the stderr lines."""
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", [module.__name__, *map(str, args)])
    with pytest.raises(SystemExit) as done:
        run(module.app)
    return done.value.code, capsys.readouterr().err.strip().splitlines()


def stage_env(fault: str = "", **variables: str) -> dict[str, str]:
    """The environment of a stage process: this repository importable, `fault` injected (tests/inject) if given."""
    path = os.pathsep.join([str(INJECT), str(ROOT)] if fault else [str(ROOT)])
    return dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=path, EEE443_FAULT=fault, **variables)


def dvc_env(**variables: str) -> dict[str, str]:
    """The environment of a `dvc` (or tool) command in a subprocess: no analytics, no display, and this interpreter's
    folder first on PATH, so the stages' `python` is this one (a venv not activated in the shell included)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, DVC_NO_ANALYTICS="1", MPLBACKEND="Agg", PATH=path, **variables)


def run_stage(module: str, args=(), cwd: Path = ROOT, fault: str = "") -> subprocess.CompletedProcess:
    """`python -m <module> args` in `cwd` in a subprocess (text output captured), this repository importable."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=stage_env(fault), timeout=HANG)


class Watched:
    """A process in a session of its own (its group: it and its workers) whose output (stdout and stderr in one)
    a thread reads line by line, so that a test waits for lines, never for time.

        with Watched([sys.executable, "-m", "pipeline.q2.train", "net"], project.root, stage_env()) as job:
            job.wait_for("seed 0 epoch 1/", "seed 1 epoch 1/")
            job.process.send_signal(signal.SIGINT)
            rest = job.rest()   # once every process holding the output has exited
    """

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], sigint=signal.SIG_DFL) -> None:
        """`sigint`: SIGINT's disposition in the process (SIG_IGN: as in a shell's background job)."""
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True,
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)  # end of output: every process that held it has exited

    def _next(self, deadline: float) -> str | None:
        try:
            return self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"still waiting after {HANG} s: a hang. So far:\n{''.join(self.seen)}") from None

    def wait_for(self, *texts: str) -> None:
        """Read until each of `texts` has appeared in a line, within HANG in all; fails when the output ends first."""
        deadline = time.monotonic() + HANG
        missing = list(texts)
        while missing:
            line = self._next(deadline)
            assert line is not None, f"the output ended before {missing}:\n{''.join(self.seen)}"
            self.seen.append(line)
            missing = [text for text in missing if text not in line]

    def rest(self) -> str:
        """The output from here to its end, once every process holding it has exited (a worker outliving the
        process keeps it open: that is a hang), and the process has exited; within HANG in all."""
        deadline = time.monotonic() + HANG
        lines = []
        while (line := self._next(deadline)) is not None:
            lines.append(line)
        self.process.wait(timeout=max(1.0, deadline - time.monotonic()))
        self.seen.extend(lines)
        return "".join(lines)

    def __enter__(self) -> Watched:
        return self

    def __exit__(self, *exc) -> None:
        """Whatever the test found, nothing it started outlives it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def children(pid: int) -> list[int]:
    """The process ids of `pid`'s child processes (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)
