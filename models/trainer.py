"""Mini-batch training with per-epoch history and early stopping on validation loss."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.contract import Batch, Model, Params
from models.optim import MomentumSGD, clip_grad_norm

MAX_LOSS_GROWTH = 100.0  # a mini-batch loss above this many times the first mini-batch's counts as divergence


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or inf, or grew far beyond its starting value (MAX_LOSS_GROWTH)."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(f"training diverged at epoch {epoch}: loss = {loss}")
        self.epoch = epoch
        self.loss = loss


@dataclass
class TrainResult:
    """What `train` returns.

    history: one dict per epoch with 'epoch', 'lr', 'seconds', 'train_<metric>' and, with a
    validation set, 'val_<metric>' for every metric the model's `evaluate` reports.
    params: the best parameters (lowest monitored loss), already restored.
    """

    params: Params
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0
    stop_reason: str = ""
    seconds: float = 0.0


def evaluate(model: Model, params: Params, data: Batch, batch_size: int) -> dict[str, float]:
    """Sample-weighted mean of `model.evaluate` over chunks of at most `batch_size` rows."""
    n = len(data[0])
    totals: dict[str, float] = {}
    for start in range(0, n, batch_size):
        chunk = tuple(a[start : start + batch_size] for a in data)
        weight = len(chunk[0]) / n
        for key, value in model.evaluate(params, chunk).items():
            totals[key] = totals.get(key, 0.0) + weight * value
    return totals


def train(
    model: Model,
    params: Params,
    train_data: Batch,
    *,
    optimizer: MomentumSGD,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    val_data: Batch | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    clip_norm: float | None = None,
    lr_schedule: Callable[[int], float] | None = None,
    train_eval_size: int | None = None,
    eval_batch_size: int = 4096,
    augment: Callable[[Batch], Batch] | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train `params` in place with mini-batch SGD; return the best parameters and the history.

    Every epoch draws a fresh permutation from `rng`, so the same seed gives the same result bit
    for bit. After each epoch the model is evaluated on the training data (on a fixed random subset
    of `train_eval_size` rows when given) and on `val_data`. The monitored loss is the validation
    loss (the training loss without a validation set); it must fall by more than `min_delta` within
    `patience` epochs or training stops. The parameters of the best epoch are restored at the end.
    `lr_schedule(epoch)` (1-based) sets the learning rate of each epoch; `clip_norm` caps the global
    gradient norm of each mini-batch; `augment(batch)` returns a randomly transformed copy of each training
    mini-batch before its gradient (the evaluations see the data unchanged). Raises TrainingDiverged when a
    mini-batch loss is NaN or inf or above MAX_LOSS_GROWTH times the first mini-batch's loss (a run whose loss
    grows that far is not training; with an explosive learning rate the loss can grow by 10^5 and more and still
    be finite).
    """
    n = len(train_data[0])
    train_eval = train_data
    if train_eval_size is not None and train_eval_size < n:
        rows = np.sort(rng.choice(n, size=train_eval_size, replace=False))
        train_eval = tuple(a[rows] for a in train_data)
    result = TrainResult(params={name: array.copy() for name, array in params.items()})
    best = math.inf
    first_loss = None
    waited = 0
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        if lr_schedule is not None:
            optimizer.lr = lr_schedule(epoch)
        epoch_start = time.perf_counter()
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            batch = tuple(a[rows] for a in train_data)
            loss, grads = model.loss_and_grads(params, batch if augment is None else augment(batch))
            first_loss = loss if first_loss is None else first_loss
            if not math.isfinite(loss) or loss > MAX_LOSS_GROWTH * abs(first_loss):
                raise TrainingDiverged(epoch, loss)
            if clip_norm is not None:
                clip_grad_norm(grads, clip_norm)
            optimizer.step(params, grads)
        entry = {"epoch": epoch, "lr": optimizer.lr, "seconds": time.perf_counter() - epoch_start}
        entry.update({f"train_{k}": v for k, v in evaluate(model, params, train_eval, eval_batch_size).items()})
        if val_data is not None:
            entry.update({f"val_{k}": v for k, v in evaluate(model, params, val_data, eval_batch_size).items()})
        result.history.append(entry)
        monitored = entry["val_loss" if val_data is not None else "train_loss"]
        if not math.isfinite(monitored):
            raise TrainingDiverged(epoch, monitored)
        if callback is not None:
            callback(entry)
        if monitored < best - min_delta:
            best, waited, result.best_epoch = monitored, 0, epoch
            result.params = {name: array.copy() for name, array in params.items()}
        else:
            waited += 1
        result.stopped_epoch = epoch
        if patience is not None and waited >= patience:
            result.stop_reason = (
                f"early stop: monitored loss did not improve by more than {min_delta:g} "
                f"for {patience} epochs (best epoch {result.best_epoch})"
            )
            break
    else:
        result.stop_reason = f"reached the epoch limit ({epochs}); best epoch {result.best_epoch}"
    result.seconds = time.perf_counter() - started
    return result
