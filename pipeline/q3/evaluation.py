"""Q3 helpers shared by the Q3 stages: the validation split (whole trials), standardisation, the model
artifact, confusion matrices, per-class precision / recall and their figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.contract import Params
from models.sequence_classifier import RecurrentClassifier
from models.trainer import evaluate
from pipeline.common import io
from pipeline.common.artifact import load_model, save_model
from pipeline.common.errors import UserError
from pipeline.q3.data import Activities
from pipeline.q3.trials import fragments, overlapping, trials

KIND = "recurrent_classifier"
CONFIG_KEYS = ("cell", "layers", "hidden", "head", "n_inputs", "n_classes", "recurrent_init", "recurrent_gain", "mean",
               "std")
EVAL_BATCH = 1024  # rows per evaluation call of the trainer
EVAL_CHUNK = 256  # rows per forward pass inside the classifier (RecurrentClassifier.eval_chunk)


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, val), both sorted: a random `fraction` of every class goes to validation.

    data3 is stored in class-contiguous blocks, so a plain tail split would hold out whole classes.
    Each class contributes round(fraction * count) rows (at least one when it has two or more).
    """
    val = []
    for label in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == label))
        take = int(round(fraction * len(rows)))
        take = min(max(take, 1 if len(rows) > 1 else 0), len(rows) - 1)
        val.append(rows[:take])
    val_rows = np.sort(np.concatenate(val))
    train_rows = np.setdiff1d(np.arange(len(y)), val_rows)
    return train_rows, val_rows


def purpose_rngs(seed: int) -> tuple[np.random.Generator, ...]:
    """The generators of the validation split, the initialisation, the shuffling and the augmentation, derived from
    one seed (each independent of the others: turning augmentation on changes neither the split nor the order)."""
    return tuple(np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))


def trial_split(y: np.ndarray, groups: np.ndarray, fraction: float, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, val), both sorted: whole trials (`groups`) of every class go to validation, in a random
    order, until it holds at least round(fraction * count) of the class's windows. A trial that would take the class
    past twice that is skipped (one long trial would otherwise empty the training set of its class); if every trial
    is skipped, the smallest goes. Every class keeps at least one trial for training.

    A trial's class is that of its first window. Where every window is its own trial this is `stratified_split`
    (the same draws, the same rows).
    """
    if len(np.unique(groups)) == len(groups):
        return stratified_split(y, fraction, rng)
    first = np.unique(groups, return_index=True)[1]
    group_class, group_size = y[first], np.bincount(np.unique(groups, return_inverse=True)[1])
    val = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(group_class == label))
        target = int(round(fraction * np.count_nonzero(y == label)))
        taken: list[int] = []
        size = 0  # windows of the class taken so far
        for group in members:
            if size >= target or len(taken) == len(members) - 1:
                break
            if size + group_size[group] <= 2 * target:
                taken.append(group)
                size += group_size[group]
        if not taken and len(members) > 1 and target:
            taken = [members[np.argmin(group_size[members])]]
        val.extend(np.flatnonzero(groups == group) for group in taken)
    val_rows = np.sort(np.concatenate(val)) if val else np.array([], dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), val_rows), val_rows


@dataclass(frozen=True)
class Split:
    """Training and validation rows of trX, the trials found, and how many validation windows overlap training."""

    train: np.ndarray
    val: np.ndarray
    trials: int
    val_overlapping_train: int


MIN_CLASS_WINDOWS = 2  # per class in trY: one for training, one held out for validation


def check_classes(acts: Activities, path: str | Path) -> None:
    """UserError naming `path` and every class with fewer than MIN_CLASS_WINDOWS training windows (none included:
    a model trained without a class would still be scored on it)."""
    counts = np.bincount(acts.train_y, minlength=len(acts.classes))
    few = [f"'{acts.classes[c]}' ({counts[c]})" for c in np.flatnonzero(counts < MIN_CLASS_WINDOWS)]
    if few:
        raise UserError(f"{path}: trY has too few windows of class {', '.join(few)}; every class needs at least "
                        f"{MIN_CLASS_WINDOWS} to hold one out for validation")


def train_trials(acts: Activities, degrees: float) -> np.ndarray:
    """(N,) the trial of every training window (pipeline.q3.trials, linked within `degrees`): found once per stage,
    the same for every seed's split."""
    return trials(acts.train_x, acts.train_y, fragments(acts.train_x), degrees)


def validation_split(acts: Activities, groups: np.ndarray, fraction: float, rng: np.random.Generator) -> Split:
    """The trial-disjoint validation split: whole trials (`groups`, from `train_trials`), stratified by class, about
    `fraction` of each class's windows."""
    train_rows, val_rows = trial_split(acts.train_y, groups, fraction, rng)
    return Split(train_rows, val_rows, int(groups.max()) + 1, overlapping(acts.train_x, val_rows, train_rows))


PREDICTION_COLUMNS = ("trial", "fragment", "true", "predicted")  # paths.TEST_PREDICTIONS, one row per test window


def test_units(acts: Activities, degrees: float) -> pd.DataFrame:
    """(N, 2) the trial (the bootstrap's unit) and the fragment (the sensitivity check's) of every test window."""
    frag = fragments(acts.test_x)
    return pd.DataFrame({"trial": trials(acts.test_x, acts.test_y, frag, degrees), "fragment": frag})


def prediction_frame(units: pd.DataFrame, true: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """paths.TEST_PREDICTIONS: PREDICTION_COLUMNS for every test window."""
    return units.assign(true=true, predicted=predicted)[list(PREDICTION_COLUMNS)]


@dataclass(frozen=True)
class Standardiser:
    """x -> (x - mean) / std per input channel; statistics from the training split only ((D,) each)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, enabled: bool) -> Standardiser:
        d = x.shape[-1]
        if not enabled:
            return cls(np.zeros(d), np.ones(d))
        std = x.std(axis=(0, 1))
        return cls(x.mean(axis=(0, 1)), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(dtype)


def save_artifact(path: Path, model: RecurrentClassifier, params: Params, scaler: Standardiser) -> None:
    """Everything needed to rebuild the classifier: its configuration, weights and input statistics."""
    config = {"cell": model.cell, "layers": model.layers, "hidden": model.hidden, "head": list(model.head.hidden),
              "n_inputs": model.n_inputs,
              "n_classes": model.head.n_classes, "recurrent_init": model.recurrent_init,
              "recurrent_gain": model.recurrent_gain, "mean": scaler.mean.tolist(), "std": scaler.std.tolist()}
    save_model(path, KIND, config, params)


def load_artifact(path: Path) -> tuple[RecurrentClassifier, Params, Standardiser]:
    """Inverse of `save_artifact`; a missing, damaged or foreign file is a UserError naming it."""
    config, params = load_model(path, KIND, CONFIG_KEYS)
    try:
        model = RecurrentClassifier(config["cell"], n_inputs=config["n_inputs"], hidden=config["hidden"],
                                    head=tuple(config["head"]), n_classes=config["n_classes"],
                                    recurrent_init=config["recurrent_init"], recurrent_gain=config["recurrent_gain"],
                                    layers=config["layers"])
        scaler = Standardiser(np.array(config["mean"], dtype=float), np.array(config["std"], dtype=float))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{path}: not a q3 model file ({err.__class__.__name__}: {err})") from None
    return model, params, scaler


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """counts[i, j] = number of samples of true class i predicted as class j."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def precision_recall(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per class: precision = TP / predicted, recall = TP / true (0 where the denominator is 0)."""
    tp = np.diag(counts).astype(float)
    predicted, true = counts.sum(axis=0), counts.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    return precision, recall


def confusion_frame(counts: np.ndarray, classes: tuple[str, ...]) -> pd.DataFrame:
    """CSV layout: one row per true class, one column per predicted class."""
    frame = pd.DataFrame(counts, columns=[f"pred_{c}" for c in classes])
    frame.insert(0, "true", list(classes))
    return frame


def confusion_figure(counts: np.ndarray, classes: tuple[str, ...], title: str, path: Path) -> None:
    """Seaborn heatmap of the counts, true class on the rows, with class names."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.5, 5.2))
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", xticklabels=classes, yticklabels=classes, ax=ax, cbar=False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    io.save_figure(fig, path)


def scores(model: RecurrentClassifier, params, x: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    """Accuracy, cross-entropy, confusion counts, the predicted class of each row (N,) and per-class precision / recall
    of `params` on (x, y)."""
    metrics = evaluate(model, params, (x, y), EVAL_BATCH)
    predicted = model.predict(params, x).argmax(axis=1)
    counts = confusion_matrix(y, predicted, n_classes)
    precision, recall = precision_recall(counts)
    return {"accuracy": metrics["accuracy"], "loss": metrics["loss"], "counts": counts, "predicted": predicted,
            "precision": precision, "recall": recall}
