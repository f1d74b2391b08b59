"""Q1 files: data1.h5 patches, the normalised patches of q1_preprocess (split into training and held-out rows),
and saved networks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline.common.artifact import load_model, save_model
from pipeline.common.errors import UserError
from pipeline.common.h5 import numeric, open_file, read_key, shape_error

KIND = "sparse_autoencoder"
WEIGHTS = ("W1", "W2", "b1", "b2")
HYPER = ("n_in", "n_hidden", "lam", "beta", "rho")  # saved beside the weights to rebuild the model
SPLIT_PURPOSE = 0  # rng = default_rng([seed, purpose]): one generator per purpose from one seed


@dataclass(frozen=True)
class PatchSplit:
    """train (N_train, Lin) and held (N_held, Lin) rows of the patch file; patches are size x size."""

    train: np.ndarray
    held: np.ndarray
    size: int


def load_patches(path: str | Path) -> np.ndarray:
    """data1 'data': RGB patches as float64 (N, 3, 16, 16), channels first.

    Accepts square patches channels-first (N, 3, S, S) or channels-last (N, S, S, 3), any float or integer dtype
    (uint8 images are used as they are: the preprocessing does not depend on scale).
    """
    with open_file(path) as h5:
        data = numeric(h5, "data", read_key(h5, "data"))
        if data.ndim == 4 and data.shape[1] == 3:
            rgb = data
        elif data.ndim == 4 and data.shape[3] == 3:
            rgb = np.moveaxis(data, 3, 1)
        else:
            raise shape_error(h5, "data", data, "(N, 3, S, S) or (N, S, S, 3)")
        if rgb.shape[0] == 0 or rgb.shape[2] != rgb.shape[3]:
            raise shape_error(h5, "data", data, "at least one square patch, (N, 3, S, S) or (N, S, S, 3)")
    return np.ascontiguousarray(rgb, dtype=np.float64)


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


def save_network(path: Path, model: SparseAutoencoder, params: dict[str, np.ndarray]) -> None:
    """W1, W2, b1, b2 and the hyperparameters n_in, n_hidden, lam, beta, rho (pipeline.common.artifact)."""
    save_model(path, KIND, {name: getattr(model, name) for name in HYPER}, params)


def load_network(path: Path) -> tuple[SparseAutoencoder, dict[str, np.ndarray]]:
    """Inverse of `save_network`; UserError (one line naming the file) when it is missing, damaged or foreign."""
    config, params = load_model(path, KIND, HYPER, WEIGHTS)
    return SparseAutoencoder(**{name: config[name] for name in HYPER}), params
