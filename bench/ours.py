"""Our library as the pipeline uses it: the model class, models.optim.MomentumSGD and the per-batch loop
of models.trainer.train (index-gathered batch, loss_and_grads, finiteness check, optimizer.step), float32.

`threads` is how many cores ours may use: the BLAS thread count for the autoencoder and the language
model; for the recurrent classifiers (whose BLAS calls run single-threaded, see models.blas) the number
of `workers` threads that split each mini-batch.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from bench.runner import batch_rows
from models.contract import Model, Params
from models.optim import MomentumSGD
from models.trainer import TrainingDiverged

DTYPE = np.float32


class OursRunner:
    """A `bench.runner.Runner` around a `models.contract.Model`."""

    def __init__(self, model: Model, params: Params, work, order: np.ndarray, threads: int, label: str) -> None:
        self.model, self.params0, self.order, self.threads, self.label = model, params, order, threads, label
        self.batch_size, self.lr, self.momentum = work.batch_size, work.lr, work.momentum
        self.data = tuple(a.astype(DTYPE) if a.dtype.kind == "f" else a for a in work.data)
        self.reset()

    def reset(self) -> None:
        self.params = {name: array.copy() for name, array in self.params0.items()}
        self.optimizer = MomentumSGD(self.lr, self.momentum)

    def batch_loss(self, index: int) -> float:
        rows = batch_rows(self.order, self.batch_size, index)
        return float(self.model.loss_and_grads(self.params, tuple(a[rows] for a in self.data))[0])

    def train_batches(self, count: int) -> None:
        n = min(len(self.order), count * self.batch_size)
        with threadpool_limits(limits=self.threads, user_api="blas"):
            for start in range(0, n, self.batch_size):
                rows = self.order[start : start + self.batch_size]
                loss, grads = self.model.loss_and_grads(self.params, tuple(a[rows] for a in self.data))
                if not math.isfinite(loss):
                    raise TrainingDiverged(1, loss)
                self.optimizer.step(self.params, grads)


def _cast(weights: dict[str, np.ndarray]) -> Params:
    return {name: np.ascontiguousarray(w, dtype=DTYPE) for name, w in weights.items()}


def model_and_params(work, weights: dict[str, np.ndarray], threads: int) -> tuple[Model, Params]:
    """Our model for `work` and the reference weights in its parameter layout (float32).

    The reference layout (bench.workloads) is the library's own, so the weights are only cast.
    Raises ImportError when the model's module does not exist yet.
    """
    h = work.hyper
    if work.family == "autoencoder":
        from models.autoencoder import SparseAutoencoder

        return SparseAutoencoder(h["n_in"], h["n_hid"], h["lam"], h["beta"], h["rho"]), _cast(weights)
    if work.family == "language":
        from models.language import TrigramLM

        return TrigramLM(h["vocab"], h["dim"], h["hidden"], init_std=0.01), _cast(weights)
    from models.sequence_classifier import RecurrentClassifier

    model = RecurrentClassifier(work.family, h["n_in"], h["hidden"], (h["head"],), h["classes"], "glorot", 1.0,
                                workers=threads)
    return model, _cast(weights)


def build(work, weights: dict[str, np.ndarray], order: np.ndarray, threads: int, label: str = "ours") -> OursRunner:
    model, params = model_and_params(work, weights, threads)
    return OursRunner(model, params, work, order, threads, label)
