"""Where a trained Q2 network lives on disk, and loading it back (shared by the Q2 stages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.language import TrigramLM
from pipeline.common import paths
from pipeline.common.artifact import load_model, save_model
from pipeline.common.errors import UserError
from pipeline.common.readers import read_json
from pipeline.common.seeds import seed_folder

KIND = "trigram_lm"
PARAM_NAMES = ("R", "W1", "b1", "W2", "b2")


def artifact_path(name: str, seed: int) -> Path:
    """artifacts/q2/train/<name>/seed<seed>/model.npz."""
    return paths.Q2_TRAIN_ARTIFACTS / name / seed_folder(seed) / paths.MODEL


def median_network(name: str) -> tuple[Path, int]:
    """The model file of the seed with the median validation cross-entropy of q2_train@<name>, and that seed."""
    seed = read_json(paths.Q2_TRAIN_RESULTS / name / paths.RESULT, numbers=("median_seed",))["median_seed"]
    return artifact_path(name, seed), seed


def save_network(path: Path, model: TrigramLM, params: dict[str, np.ndarray]) -> None:
    save_model(path, KIND, {"vocab": model.vocab, "dim": model.dim, "hidden": model.hidden, "init_std": model.init_std},
               {k: params[k] for k in PARAM_NAMES})


def load_network(path: Path) -> tuple[TrigramLM, dict[str, np.ndarray]]:
    """The model and its parameters from a file written by q2_train.

    Raises UserError (one line naming the file) when it is missing, damaged, foreign or inconsistent.
    """
    config, params = load_model(path, KIND, ("vocab", "dim", "hidden", "init_std"), PARAM_NAMES)
    vocab, dim, hidden = config["vocab"], config["dim"], config["hidden"]
    expected = {"R": (vocab, dim), "W1": (3 * dim, hidden), "b1": (hidden,), "W2": (hidden, vocab), "b2": (vocab,)}
    if {k: v.shape for k, v in params.items()} != expected:
        found = {k: v.shape for k, v in params.items()}
        raise UserError(f"{path}: inconsistent parameter shapes {found}; run `dvc repro` to rewrite it")
    return TrigramLM(vocab=vocab, dim=dim, hidden=hidden, init_std=config["init_std"]), params
