"""Q1 files: the normalised patches of q1_preprocess (split into training and held-out rows) and saved networks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline import atomic
from pipeline.errors import UserError
from pipeline.outputs import read_npz

WEIGHTS = ("W1", "W2", "b1", "b2")
HYPER = ("n_in", "n_hidden", "lam", "beta", "rho")  # saved beside the weights to rebuild the model
SPLIT_PURPOSE = 0  # rng = default_rng([seed, purpose]): one generator per purpose from one seed


@dataclass(frozen=True)
class PatchSplit:
    """train (N_train, Lin) and held (N_held, Lin) rows of the patch file; patches are size x size."""

    train: np.ndarray
    held: np.ndarray
    size: int


def load_split(path: str | Path, holdout: float, seed: int, dtype: str) -> PatchSplit:
    """Read the (N, size*size) patch array and hold out round(holdout * N) random rows.

    Raises UserError when the file is missing or unreadable, not 2-D, its rows are not square images,
    it holds NaN/inf, or the split would leave either part empty.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found (run `dvc repro q1_preprocess` first)")
    try:
        patches = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a readable .npy array ({err})") from None
    if patches.ndim != 2 or patches.shape[0] == 0:
        raise UserError(f"{path}: has shape {patches.shape}, expected (N, size*size)")
    size = int(round(np.sqrt(patches.shape[1])))
    if size * size != patches.shape[1]:
        raise UserError(f"{path}: rows have {patches.shape[1]} values, not a square patch")
    if not np.isfinite(patches).all():
        raise UserError(f"{path}: contains NaN or inf values")
    n_held = int(round(holdout * len(patches)))
    if not 0 < n_held < len(patches):
        raise UserError(
            f"params.yaml q1.holdout = {holdout!r}: holds out {n_held} of {len(patches)} patches, "
            "need at least one in each part"
        )
    order = np.random.default_rng([seed, SPLIT_PURPOSE]).permutation(len(patches))
    as_type = np.dtype(dtype)
    return PatchSplit(
        train=np.ascontiguousarray(patches[np.sort(order[n_held:])], dtype=as_type),
        held=np.ascontiguousarray(patches[np.sort(order[:n_held])], dtype=as_type),
        size=size,
    )


def save_network(path: str | Path, model: SparseAutoencoder, params: dict[str, np.ndarray]) -> None:
    """W1, W2, b1, b2 and the hyperparameters n_in, n_hidden, lam, beta, rho in one .npz (atomic)."""
    hyper = {name: np.asarray(getattr(model, name)) for name in HYPER}
    atomic.write_npz(path, **params, **hyper)


def load_network(path: str | Path) -> tuple[SparseAutoencoder, dict[str, np.ndarray]]:
    """Inverse of `save_network`; UserError (one line naming the file) when it is missing, damaged or lacks a key."""
    arrays = read_npz(path, (*WEIGHTS, *HYPER))
    model = SparseAutoencoder(int(arrays["n_in"]), int(arrays["n_hidden"]), float(arrays["lam"]),
                              float(arrays["beta"]), float(arrays["rho"]))
    return model, {name: arrays[name] for name in WEIGHTS}
