"""Stage q3_train@<model> (Q3 a-c): train one recurrent activity classifier (rnn, lstm or gru).

    python -m pipeline.q3.train gru           (one DVC stage per key of params.yaml q3.models)

Writes artifacts/q3/train/<model>/model.npz, results/q3/train/<model>/ (result.json, confusion_train.csv,
confusion_test.csv) and plots/q3/train/<model>/ (curve.csv, curve.png, confusion_train.png, confusion_test.png).
`python -m pipeline.q3.evaluate` scores a trained model on another file.

Training: a validation split of whole recordings of trX (found in the data: pipeline.q3.recordings; class
proportions kept, so no validation window shares samples with a training window), inputs standardised
with the training split's per-channel statistics, mini-batch momentum SGD with optional gradient-norm
clipping, early stopping on the validation cross-entropy with the best parameters restored. The test
set is only scored, never used to choose anything.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import typer

from models.optim import MomentumSGD
from models.schedules import lr_schedule
from models.sequence_classifier import RecurrentClassifier
from models.trainer import TrainingDiverged, train
from pipeline.common import figures, io, paths
from pipeline.common.config import Params, load, stage_help
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.progress import epoch_printer
from pipeline.common.provenance import log_training
from pipeline.common.staging import outputs
from pipeline.q3.data import load_activities
from pipeline.q3.evaluation import (
    EVAL_BATCH,
    EVAL_CHUNK,
    Standardiser,
    confusion_figure,
    confusion_frame,
    purpose_rngs,
    save_artifact,
    scores,
    validation_split,
)
from pipeline.q3.params import SCHEMA, TRAINING_KEYS, parse_head

PARAMS = ("data.data3", "q3.models.{model}", *TRAINING_KEYS)
CURVE_COLUMNS = ["epoch", "lr", "train_loss", "train_accuracy", "train_error", "val_loss", "val_accuracy",
                 "val_error"]
CURVE_PANELS = (("loss", "cross-entropy"), ("error", "error rate (1 - accuracy)"))

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def memory_needed(steps: int, inputs: int, hidden: int, head: tuple[int, ...], batch: int) -> float:
    """Bytes a classifier needs while training, roughly: the per-step buffers of BPTT (stacked inputs, four gate
    blocks, their slopes and deltas) for a batch or an evaluation chunk, and weights, gradients and copies."""
    rows = max(batch, EVAL_CHUNK)
    widths = (hidden, *head, 6)
    n_params = 4 * hidden * (hidden + inputs + 1) + sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return 4.0 * steps * rows * (hidden + inputs + 1 + 16 * hidden) + 8.0 * 6 * n_params


def curve_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """Per-epoch table: cross-entropy ('loss'), accuracy and error rate, training and validation."""
    rows = [{**h, "train_error": 1 - h["train_accuracy"], "val_error": 1 - h["val_accuracy"]} for h in history]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@app.command(help=HELP)
def main(model_name: str = typer.Argument(..., metavar="MODEL", help="a key of params.yaml q3.models")) -> None:
    """Train one classifier; write its weights, curve, confusion matrices and summary."""
    train_and_score(model_name, load(SCHEMA, PARAMS, model=model_name))


def train_and_score(model_name: str, p: Params) -> None:
    """Split, standardise, train, score and write everything for the model `model_name` of params `p`."""
    q3, m = p.q3, p.q3.models[model_name]
    key = f"q3.models.{model_name}"
    head_widths = parse_head(m.head)
    acts = load_activities(p.data.data3)
    check_fits(key, {"hidden": m.hidden, "head": m.head},
               memory_needed(acts.train_x.shape[1], acts.train_x.shape[2], m.hidden, head_widths, q3.batch_size))
    counts = np.bincount(acts.train_y, minlength=len(acts.classes))
    small = [f"'{acts.classes[c]}' ({counts[c]})" for c in np.flatnonzero(counts == 1)]
    if small:
        raise UserError(f"{p.data.data3}: trY has a single window of class {', '.join(small)}; every class needs at "
                        "least 2 to hold one out for validation")
    _, init_rng, shuffle_rng = purpose_rngs(q3.seed)
    split = validation_split(acts, q3)
    train_rows, val_rows = split.train, split.val
    scaler = Standardiser.fit(acts.train_x[train_rows], q3.standardise)
    train_set = (scaler(acts.train_x[train_rows]), acts.train_y[train_rows])
    val_set = (scaler(acts.train_x[val_rows]), acts.train_y[val_rows])
    model = RecurrentClassifier(model_name, n_inputs=acts.train_x.shape[2], hidden=m.hidden, head=head_widths,
                                n_classes=len(acts.classes), recurrent_init=m.recurrent_init,
                                recurrent_gain=m.recurrent_gain, workers=q3.workers, eval_chunk=EVAL_CHUNK)
    params = model.init_params(init_rng, np.float32)
    try:
        result = train(
            model, params, train_set, optimizer=MomentumSGD(m.lr, q3.momentum), epochs=m.epochs,
            batch_size=q3.batch_size, rng=shuffle_rng, val_data=val_set, patience=m.patience, clip_norm=m.clip or None,
            lr_schedule=lr_schedule(m.schedule, m.lr, epochs=m.epochs, lr_min=m.lr_min),
            train_eval_size=q3.train_eval_size,
            eval_batch_size=EVAL_BATCH, callback=epoch_printer(f"q3_train {model_name}"),
        )
    except TrainingDiverged as err:
        raise UserError(
            f"q3_train {model_name}: training diverged at epoch {err.epoch} (loss {err.loss}); lower params.yaml "
            f"{key}.lr (now {m.lr}) or set {key}.clip (now {m.clip})"
        ) from None

    best = result.params
    n_classes = len(acts.classes)
    train_scores = scores(model, best, *train_set, n_classes)
    test_scores = scores(model, best, scaler(acts.test_x), acts.test_y, n_classes)
    summary = {
        "model": model_name,
        "test_accuracy": test_scores["accuracy"],
        "test_cross_entropy": test_scores["loss"],
        "train_accuracy": train_scores["accuracy"],
        "val_accuracy": result.history[result.best_epoch - 1]["val_accuracy"],
        "val_cross_entropy": result.history[result.best_epoch - 1]["val_loss"],
        "precision": dict(zip(acts.classes, test_scores["precision"].round(6).tolist(), strict=True)),
        "recall": dict(zip(acts.classes, test_scores["recall"].round(6).tolist(), strict=True)),
        "best_epoch": result.best_epoch,
        "stopped_epoch": result.stopped_epoch,
        "stop_reason": result.stop_reason,
        "parameters": model.count_params(best),
        "recordings": split.recordings,
        "val_windows": len(val_rows),
        "val_overlapping_train": split.val_overlapping_train,
    }
    figures.use_agg()
    artifacts, plots, results = (folder / model_name for folder in (paths.Q3_TRAIN_ARTIFACTS, paths.Q3_TRAIN_PLOTS,
                                                                    paths.Q3_TRAIN_RESULTS))
    curve = curve_frame(result.history)
    with outputs(artifacts, results, plots):
        save_artifact(artifacts / paths.MODEL, model, best, scaler)
        io.write_csv(plots / paths.CURVE, curve)
        figures.epoch_curve_figure(curve, CURVE_PANELS,
                                   f"Q3 {model_name.upper()}: H = {m.hidden}, head {head_widths or 'none'}, lr {m.lr}",
                                   result.best_epoch, plots / "curve.png")
        for split, sc in (("train", train_scores), ("test", test_scores)):
            io.write_csv(results / f"confusion_{split}.csv", confusion_frame(sc["counts"], acts.classes))
            confusion_figure(sc["counts"], acts.classes,
                             f"{model_name.upper()} {split} set: accuracy {sc['accuracy']:.3f}",
                             plots / f"confusion_{split}.png")
        io.write_json(results / paths.RESULT, summary)
    log_training(f"q3_train@{model_name}", result.seconds, result.history)
    print(
        f"q3_train {model_name}: best epoch {result.best_epoch}, test accuracy {test_scores['accuracy']:.4f}, "
        f"{result.seconds:.1f}s ({result.stop_reason})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    run(app)
