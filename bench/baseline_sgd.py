"""The training loop of the NumPy baselines, as a typical course solution writes it.

    for each mini-batch:  J, grads = cost(params, batch)
                          v[k] = alpha v[k] - eta grads[k];  params[k] = params[k] + v[k]

float64 throughout, new arrays for every velocity and parameter on every step (no in-place updates).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.runner import batch_rows

Cost = Callable[[dict[str, np.ndarray], tuple[np.ndarray, ...]], tuple[float, dict[str, np.ndarray]]]


class BaselineRunner:
    """A `bench.runner.Runner` around a baseline cost function."""

    label = "baseline"

    def __init__(
        self,
        cost: Cost,
        params: dict[str, np.ndarray],
        data: tuple[np.ndarray, ...],
        order: np.ndarray,
        batch_size: int,
        lr: float,
        momentum: float,
    ) -> None:
        self.cost, self.params0, self.data = cost, params, data
        self.order, self.batch_size, self.lr, self.momentum = order, batch_size, lr, momentum
        self.reset()

    def reset(self) -> None:
        self.params = {name: array.copy() for name, array in self.params0.items()}
        self.velocity = {name: np.zeros_like(array) for name, array in self.params0.items()}

    def _batch(self, index: int) -> tuple[np.ndarray, ...]:
        rows = batch_rows(self.order, self.batch_size, index)
        return tuple(a[rows] for a in self.data)

    def batch_loss(self, index: int) -> float:
        return float(self.cost(self.params, self._batch(index))[0])

    def train_batches(self, count: int) -> None:
        for index in range(count):
            _, grads = self.cost(self.params, self._batch(index))
            for name in self.params:
                self.velocity[name] = self.momentum * self.velocity[name] - self.lr * grads[name]
                self.params[name] = self.params[name] + self.velocity[name]
