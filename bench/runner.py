"""What every implementation of a workload offers the timing harness."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Runner(Protocol):
    """One implementation of one workload, holding its own copy of the data and a fixed batch order.

    `reset` restores the shared initial weights and clears the momentum; `train_batches(k)` runs the
    first k mini-batches of the epoch (forward, backward, momentum update each); `batch_loss(i)` is the
    training loss on mini-batch i at the current weights, without updating them.
    """

    label: str

    def reset(self) -> None: ...

    def batch_loss(self, index: int) -> float: ...

    def train_batches(self, count: int) -> None: ...


def batch_rows(order: np.ndarray, batch_size: int, index: int) -> np.ndarray:
    """Sample indices of mini-batch `index` of an epoch visiting the samples in `order`."""
    return order[index * batch_size : (index + 1) * batch_size]

