"""Q3 helpers shared by q3_train and q3_compare: the stratified split, standardisation, the model artifact,
confusion matrices, per-class precision / recall and their figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.contract import Params
from models.sequence_classifier import RecurrentClassifier
from pipeline import atomic
from pipeline.errors import UserError
from pipeline.outputs import read_npz

CELLS = ("rnn", "lstm", "gru")
CONFIG_KEYS = ("cell", "hidden", "head", "n_inputs", "n_classes", "mean", "std")  # saved as config_<key>


def parse_head(text: str) -> tuple[int, ...]:
    """'64,32' -> (64, 32); 'none' or '' -> () (softmax straight on h_T). Raises ValueError."""
    text = str(text).strip()
    if text.lower() in ("", "none"):
        return ()
    widths = tuple(int(part) for part in text.split(","))
    if any(w < 1 for w in widths):
        raise ValueError("widths must be positive")
    return widths


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


@dataclass(frozen=True)
class Standardiser:
    """x -> (x - mean) / std per input channel; statistics from the training split only ((D,) each)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, enabled: bool = True) -> Standardiser:
        d = x.shape[-1]
        if not enabled:
            return cls(np.zeros(d), np.ones(d))
        std = x.std(axis=(0, 1))
        return cls(x.mean(axis=(0, 1)), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(dtype)


def save_artifact(path: Path, model: RecurrentClassifier, params: Params, scaler: Standardiser) -> None:
    """Everything needed to rebuild the classifier: its configuration, weights and input statistics."""
    config = {
        "cell": np.array(model.cell),
        "hidden": np.array(model.hidden),
        "head": np.array(model.head.hidden, dtype=np.int64),
        "n_inputs": np.array(model.n_inputs),
        "n_classes": np.array(model.head.n_classes),
        "mean": scaler.mean,
        "std": scaler.std,
    }
    arrays = {f"config_{k}": v for k, v in config.items()} | {f"param_{k}": v for k, v in params.items()}
    atomic.write_npz(path, **arrays)


def load_artifact(path: Path) -> tuple[RecurrentClassifier, Params, Standardiser]:
    """Inverse of `save_artifact`; a missing, damaged or foreign file is a UserError naming it."""
    arrays = read_npz(path, [f"config_{key}" for key in CONFIG_KEYS])
    try:
        model = RecurrentClassifier(
            str(arrays["config_cell"]), n_inputs=int(arrays["config_n_inputs"]), hidden=int(arrays["config_hidden"]),
            head=tuple(int(w) for w in arrays["config_head"]), n_classes=int(arrays["config_n_classes"]),
        )
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: not a q3 model file ({err.__class__.__name__}: {err})") from None
    params = {k.removeprefix("param_"): v for k, v in arrays.items() if k.startswith("param_")}
    return model, params, Standardiser(arrays["config_mean"], arrays["config_std"])


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
    atomic.save_figure(fig, path)
