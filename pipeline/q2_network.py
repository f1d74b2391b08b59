"""Where a trained Q2 network lives on disk, and loading it back (shared by the Q2 stages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.language import TrigramLM
from pipeline import atomic, outputs
from pipeline.errors import UserError

PARAM_NAMES = ("R", "W1", "b1", "W2", "b2")


def artifact_path(artifacts: Path, name: str) -> Path:
    """artifacts/q2/<name>.npz."""
    return Path(artifacts) / f"{name}.npz"


def save_network(path: Path, params: dict[str, np.ndarray]) -> None:
    atomic.write_npz(path, **{k: params[k] for k in PARAM_NAMES})


def load_network(path: Path) -> tuple[TrigramLM, dict[str, np.ndarray]]:
    """The model and its parameters from an .npz written by q2_train; D and P come from the shapes.

    Raises UserError (one line naming the file) when it is missing, damaged or inconsistent.
    """
    params = outputs.read_npz(path, PARAM_NAMES)
    vocab, dim = params["R"].shape
    hidden = params["W1"].shape[1]
    model = TrigramLM(vocab=vocab, dim=dim, hidden=hidden)
    expected = {"R": (vocab, dim), "W1": (3 * dim, hidden), "b1": (hidden,), "W2": (hidden, vocab), "b2": (vocab,)}
    if any(params[k].shape != shape for k, shape in expected.items()):
        found = {k: v.shape for k, v in params.items()}
        raise UserError(f"{path}: inconsistent parameter shapes {found}")
    return model, params
