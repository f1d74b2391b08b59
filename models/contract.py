"""The contract every model of the library follows.

Parameters are a dict of named arrays (`Params`); a batch is a tuple of arrays whose first axis
indexes samples (e.g. `(x,)` for the autoencoder, `(x, y)` for classifiers).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

Params = dict[str, np.ndarray]
Batch = tuple[np.ndarray, ...]


class Model(Protocol):
    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        """Fresh parameters drawn from `rng` (no global random state)."""

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        """Mean loss over the batch and its gradient for every parameter (same keys and shapes)."""

    def evaluate(self, params: Params, batch: Batch) -> dict[str, float]:
        """Per-sample means over the batch; must include 'loss' (and 'accuracy' for classifiers)."""

    def predict(self, params: Params, x: np.ndarray) -> np.ndarray:
        """The model's output for inputs `x` (class probabilities, or reconstructions)."""
