"""One file format for every trained network: `model.npz` with the arrays `param_<name>` (the weights) and
`config` (the JSON text of what rebuilds the model, including its `kind`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pipeline.common import io
from pipeline.common.errors import UserError
from pipeline.common.readers import RERUN, read_npz


def save_model(path: Path, kind: str, config: dict, params: dict[str, np.ndarray]) -> None:
    """Write the weights and the JSON-able `config` of a model of `kind` (atomically)."""
    text = json.dumps({"kind": kind, **config}, sort_keys=True)
    io.write_npz(path, config=np.array(text), **{f"param_{name}": array for name, array in params.items()})


def load_model(path: Path, kind: str, config_keys: Iterable[str] = (), param_names: Iterable[str] = ()
               ) -> tuple[dict, dict[str, np.ndarray]]:
    """(config, params) of a file written by `save_model`, holding at least `config_keys` and `param_names`.

    A missing or damaged file, another kind of model or a missing key is a UserError naming the file.
    """
    arrays = read_npz(path, ("config",))
    try:
        config = json.loads(str(arrays["config"]))
    except ValueError as err:
        raise UserError(f"{path}: its config is not valid JSON ({err}); {RERUN}") from None
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else None
        raise UserError(f"{path}: holds a {found!r} model, expected {kind!r}; {RERUN}")
    params = {key.removeprefix("param_"): value for key, value in arrays.items() if key.startswith("param_")}
    missing = [f"{what} {', '.join(names)}" for what, names in
               (("config", [k for k in config_keys if k not in config]),
                ("weights", [n for n in param_names if n not in params])) if names]
    if missing:
        raise UserError(f"{path}: missing {' and '.join(missing)}; {RERUN}")
    return config, params
