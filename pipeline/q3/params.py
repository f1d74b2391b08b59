"""The params.yaml `q3` section: what each Q3 parameter is and which values it may take."""

from __future__ import annotations

from models.recurrent import RECURRENT_INITS
from models.schedules import SCHEDULES
from pipeline.common.config import (
    Data,
    Section,
    acute_angle,
    angle,
    boolean,
    declared,
    entries,
    grid,
    half_open_unit,
    less,
    momentum,
    non_negative,
    non_negative_int,
    one_of,
    open_unit,
    param,
    positive,
    positive_int,
    section,
    unit,
)

CELLS = {"rnn": "vanilla (tanh) RNN", "lstm": "LSTM", "gru": "GRU"}  # cell -> what the report calls it
AUGMENTATION_KEYS = ("rotation", "scale", "jitter")


def parse_head(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); 'none' or '' -> () (softmax straight on h_T). Raises ValueError."""
    text = str(text).strip()
    if text.lower() in ("", "none"):
        return ()
    widths = tuple(int(part) for part in text.split(","))
    if any(w < 1 for w in widths):
        raise ValueError("widths must be positive")
    return widths


def head(value: object) -> str | None:
    try:
        parse_head(value)
    except ValueError:
        return "must be comma-separated positive integers or none"
    return None


@declared
class Model(Section):
    cell: str = param(one_of(*CELLS), "recurrent cell: rnn (tanh), lstm or gru")
    layers: int = param(positive_int, "stacked recurrent layers (1 is the assignment's)")
    hidden: int = param(positive_int, "recurrent units per layer")
    head: str = param(head, 'MLP head: ReLU widths, "64", "64,32" or "none"')
    lr: float = param(positive, "learning rate (peak of the schedule)")
    schedule: str = param(one_of(*SCHEDULES), "learning-rate schedule")
    lr_min: float = param(non_negative, "cosine: learning rate of the last epoch")
    epochs: int = param(positive_int, "epoch limit (and the cosine schedule's length)")
    patience: int = param(positive_int, "epochs without a validation improvement before stopping")
    clip: float = param(non_negative, "max global gradient norm per mini-batch, 0 = off")
    recurrent_init: str = param(one_of(*RECURRENT_INITS), "initialisation of the recurrent matrix Wh")
    recurrent_gain: float = param(positive, "factor on the initial Wh")
    rotation: float = param(angle, "augmentation: largest random 3-D rotation of a training window, degrees (180 "
                                   "reaches every orientation)")
    scale: float = param(half_open_unit, "augmentation: movement scaled by a factor in [1 - scale, 1 + scale] (below "
                                         "1: the factor stays positive)")
    jitter: float = param(unit, "augmentation: std of Gaussian noise on the standardised inputs, in units of the "
                                "signal's std (1: as strong as the signal)")

    def check(self, key: str) -> list[str]:
        return less(key, "lr_min", self.lr_min, "lr", self.lr) if self.schedule == "cosine" else []


@declared
class Baseline(Section):
    weight_decay: list = param(grid(non_negative), "softmax regression's weight decays, chosen on validation")


@declared
class Q3(Section):
    """params.yaml `q3`: the activity classifiers (shared training settings and one entry per model)."""

    val_fraction: float = param(open_unit, "share of trX held out for early stopping: whole trials, by class")
    trial_degrees: float = param(acute_angle, "fragments of one class whose gravity directions lie this close "
                                 "(degrees) are one trial: the unit of the validation split and the test bootstrap")
    standardise: bool = param(boolean, "per-channel z-scores with training-split statistics")
    batch_size: int = param(positive_int, "mini-batch size")
    momentum: float = param(momentum, "classical momentum alpha")
    train_eval_size: int = param(positive_int, "training rows scored per epoch for the curve")
    workers: int = param(positive_int, "threads per mini-batch")
    seeds: list = param(grid(non_negative_int), "one training per seed (validation split, "
                        "initialisation, shuffling, augmentation); scores are reported as mean and spread")
    models: dict = entries(Model, "one q3_train@<model> per entry (any name; the cell is its `cell`), compared in "
                                  "this order")
    baseline: Baseline = section(Baseline, "q3_baseline: softmax regression on window statistics")


def architecture(cell: str, layers: int, hidden: int) -> str:
    """'GRU, 128 units' or 'LSTM, 2 layers of 128 units': what an entry of q3.models is, from its settings."""
    return f"{CELLS[cell]}, " + (f"{layers} layers of {hidden} units" if layers > 1 else f"{hidden} units")


def augmented(model: dict) -> bool:
    """Whether an entry (its settings as a mapping) trains on augmented windows."""
    return any(model[key] for key in AUGMENTATION_KEYS)


TRAINING_KEYS = ("q3.momentum", "q3.batch_size", "q3.val_fraction", "q3.trial_degrees", "q3.standardise",
                 "q3.train_eval_size", "q3.workers", "q3.seeds")
SCHEMA = {"data": Data, "q3": Q3}
