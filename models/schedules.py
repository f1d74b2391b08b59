"""Per-epoch learning-rate schedules for `models.trainer.train(lr_schedule=...)`.

Each schedule maps the 1-based epoch t to a learning rate:

    constant : lr(t) = lr
    step     : lr(t) = lr * gamma ** floor((t - 1) / step_epochs)
    cosine   : lr(t) = lr_min + (lr - lr_min) * (1 + cos(pi * (t - 1) / (epochs - 1))) / 2
               (lr at epoch 1, lr_min at epoch `epochs`; lr for a single epoch)
"""

from __future__ import annotations

import math
from collections.abc import Callable

SCHEDULES = ("constant", "step", "cosine")


def lr_schedule(
    kind: str, lr: float, *, epochs: int = 1, lr_min: float = 0.0, gamma: float = 1.0, step_epochs: int = 1
) -> Callable[[int], float]:
    """The schedule `kind` (one of SCHEDULES) as a function of the 1-based epoch."""
    if kind == "constant":
        return lambda epoch: lr
    if kind == "step":
        return lambda epoch: lr * gamma ** ((epoch - 1) // step_epochs)
    if kind == "cosine":
        span = max(epochs - 1, 1)
        return lambda epoch: lr_min + (lr - lr_min) * (1 + math.cos(math.pi * min(epoch - 1, span) / span)) / 2
    raise ValueError(f"unknown schedule {kind!r}; expected one of {', '.join(SCHEDULES)}")
