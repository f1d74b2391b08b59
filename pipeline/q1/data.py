"""Q1 data: data1.h5 patches, their normalisation (Q1 a), the training / held-out split, and saved networks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.autoencoder import SparseAutoencoder
from pipeline.common.artifact import load_model, save_model
from pipeline.common.config import Params
from pipeline.common.errors import UserError
from pipeline.common.h5 import numeric, open_file, read_key, shape_error
from pipeline.q1.params import Preprocess

LUMINOSITY = np.array([0.2126, 0.7152, 0.0722])
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


def normalise(rgb: np.ndarray, clip_std: float, low: float, high: float) -> np.ndarray:
    """(N, 3, h, w) RGB patches -> (N, h*w) normalised grayscale rows (row-major), values in [low, high]:

        Y = 0.2126 R + 0.7152 G + 0.0722 B            (luminosity)
        Y <- Y - mean(Y over the patch)               (per-patch mean removal)
        sigma = std of all mean-removed pixels of the data set
        Y <- clip(Y, -k sigma, +k sigma)
        Y <- low + (Y + k sigma) / (2 k sigma) * (high - low)

    Raises UserError when every pixel of the data set equals its patch mean (sigma = 0): then the
    mapping is undefined. Individual constant patches are fine: they map to (low + high) / 2.
    """
    gray = np.tensordot(LUMINOSITY, rgb, axes=(0, 1)).reshape(len(rgb), -1)
    gray -= gray.mean(axis=1, keepdims=True)
    sigma = gray.std()
    if not sigma > 0:
        raise UserError("data1: every patch is constant (pixel std is 0), nothing to normalise")
    bound = clip_std * sigma
    np.clip(gray, -bound, bound, out=gray)
    return low + (gray + bound) / (2 * bound) * (high - low)


def normalised_patches(data1: str | Path, pre: Preprocess) -> np.ndarray:
    """data1's patches normalised with params.yaml q1.preprocess: (N, size*size) rows in [low, high]."""
    return normalise(load_patches(data1), pre.clip_std, pre.low, pre.high)


def load_split(patches: np.ndarray, holdout: float, seed: int, dtype: str) -> PatchSplit:
    """Hold out round(holdout * N) random rows of the (N, size*size) normalised patches.

    Raises UserError when the split would leave either part empty.
    """
    size = int(round(np.sqrt(patches.shape[1])))
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


def training_split(p: Params) -> PatchSplit:
    """The training / held-out split of the normalised data1 patches for params p (q1.PATCH_KEYS)."""
    return load_split(normalised_patches(p.data.data1, p.q1.preprocess), p.q1.holdout, p.q1.seed, p.q1.dtype)


def save_network(path: Path, model: SparseAutoencoder, params: dict[str, np.ndarray]) -> None:
    """W1, W2, b1, b2 and the hyperparameters n_in, n_hidden, lam, beta, rho (pipeline.common.artifact)."""
    save_model(path, KIND, {name: getattr(model, name) for name in HYPER}, params)


def load_network(path: Path) -> tuple[SparseAutoencoder, dict[str, np.ndarray]]:
    """Inverse of `save_network`; UserError (one line naming the file) when it is missing, damaged or foreign."""
    config, params = load_model(path, KIND, HYPER, WEIGHTS)
    return SparseAutoencoder(**{name: config[name] for name in HYPER}), params
