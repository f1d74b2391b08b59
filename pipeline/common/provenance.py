"""What produced a result: parameters, software versions, and each stage's run log (data checksums:
pipeline.common.inputs.sha256)."""

from __future__ import annotations

import json
import platform
import sys
from importlib import metadata

from pipeline.common import io, paths

PACKAGES = ("numpy", "scipy", "h5py", "pandas", "matplotlib", "seaborn", "typer", "threadpoolctl", "dvc")


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """{'q1': {'rho': 0.05}} -> {'q1.rho': 0.05}; lists stay values."""
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def versions() -> dict[str, str]:
    """Python and the versions of the packages the pipeline runs on."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def environment() -> dict:
    """What a stage ran on: Python and package versions, and each BLAS / OpenMP library with its thread count."""
    from threadpoolctl import threadpool_info

    libraries = [{key: info.get(key) for key in ("internal_api", "version", "num_threads", "threading_layer",
                                                   "architecture")} for info in threadpool_info()]
    return {"versions": versions(), "threads": libraries, "machine": platform.machine()}


def write_log(stage: str, **measured: object) -> None:
    """logs/<stage>.json: what this run of `stage` measured (seconds, ...) and ran on; not tracked by git or DVC,
    because wall-clock times differ from run to run (report.html's time table reads them). Written after the
    outputs are in place, so a log that cannot be written is a warning: only this run's times are lost."""
    path = paths.LOGS / f"{stage}.json"
    try:
        io.write_json(path, {"stage": stage, **measured, "environment": environment()})
    except OSError as err:
        print(f"warning: {path}: cannot be written ({err.strerror}); the outputs are in place, only this run's "
              "times are lost", file=sys.stderr)


def log_training(stage: str, seconds: float, runs: dict[int, tuple[float, list[dict[str, float]]]]) -> None:
    """The log of a stage that trained with models.trainer.train once per seed: the wall-clock seconds of all its
    trainings, and per seed {seed: (seconds, history)} the training's total and per-epoch seconds."""
    write_log(stage, train_seconds=round(seconds, 2),
              seeds={str(seed): {"train_seconds": round(s, 2), "epoch_seconds": [round(h["seconds"], 3) for h in hist]}
                     for seed, (s, hist) in runs.items()})


def read_logs() -> dict[str, dict]:
    """Every stage's last log, by stage name (empty where no stage has run here)."""
    logs = {}
    for path in sorted(paths.LOGS.glob("*.json")):
        try:
            logs[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue  # a damaged log only loses its times
    return logs
