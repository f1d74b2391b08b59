"""Stage q3_train@<model> (Q3 a-c): train one recurrent activity classifier (rnn, lstm or gru).

    python -m pipeline.q3.train gru           (one DVC stage per key of params.yaml q3.models)

The model is trained once per seed of params.yaml q3.seeds, the seeds side by side on the machine's cores
(pipeline.common.parallel). Per seed k: artifacts/q3/train/<model>/seed<k>/model.npz, results/q3/train/<model>/seed<k>/
(result.json, confusion_train.csv, confusion_test.csv, test_predictions.csv). Over the seeds:
plots/q3/train/<model>/curves.csv (one row per epoch of every seed: learning rate, train and validation
cross-entropy, accuracy and error rate; `dvc plots` draws the seeds side by side), results/q3/train/<model>/result.json
(mean, std, min and max of the test and validation scores, the per-seed rows, the median seed) and
plots/q3/train/<model>/ curve.png, confusion_train.png, confusion_test.png of the seed with the median validation
cross-entropy (the title says which; the other seeds' validation curves in grey).
`python -m pipeline.q3.evaluate` scores the trained models on another file.

Training, per seed: a validation split of whole trials of trX (found in the data: pipeline.q3.trials; class
proportions kept, so no validation window comes from a training window's trial), inputs standardised
with the training split's per-channel statistics, mini-batch momentum SGD with optional gradient-norm
clipping, optional augmentation of the training mini-batches (pipeline.q3.augment: rotation, scaling, jitter),
early stopping on the validation cross-entropy with the best parameters restored. The test
set is only scored, never used to choose anything.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import typer

from models.optim import MomentumSGD
from models.recurrent import LAYERS
from models.schedules import lr_schedule
from models.sequence_classifier import RecurrentClassifier
from models.trainer import TrainingDiverged, TrainResult, train
from pipeline.common import figures, io, paths
from pipeline.common.config import Params, load, stage_help
from pipeline.common.errors import diverged, make_app, run
from pipeline.common.memory import check_batch, check_fits
from pipeline.common.parallel import jobs, map_parallel
from pipeline.common.progress import epoch_printer
from pipeline.common.provenance import log_training
from pipeline.common.seeds import over_seeds, seed_folder, stack_seeds
from pipeline.common.staging import outputs
from pipeline.q3.augment import Augmenter
from pipeline.q3.data import Activities, load_activities
from pipeline.q3.evaluation import (
    EVAL_BATCH,
    EVAL_CHUNK,
    Split,
    Standardiser,
    check_classes,
    confusion_figure,
    confusion_frame,
    prediction_frame,
    purpose_rngs,
    save_artifact,
    scores,
    test_units,
    train_trials,
    validation_split,
)
from pipeline.q3.params import AUGMENTATION_KEYS, SCHEMA, TRAINING_KEYS, architecture, parse_head

PARAMS = ("data.data3", "q3.models.{model}", *TRAINING_KEYS)
CURVE_COLUMNS = ["epoch", "lr", "train_cross_entropy", "train_accuracy", "train_error", "val_cross_entropy",
                 "val_accuracy", "val_error"]  # the names of Q2's curves: one dvc plots template draws both
CURVE_PANELS = (("cross_entropy", "cross-entropy"), ("error", "error rate (1 - accuracy)"))
SPREAD_KEYS = ("test_accuracy", "test_cross_entropy", "val_accuracy", "val_cross_entropy")  # mean, std, min, max

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def memory_needed(steps: int, inputs: int, m, batch: int) -> float:
    """Bytes an entry `m` of q3.models needs while training, roughly: per layer, the per-step buffers of BPTT (stacked
    inputs, and G gate blocks with their slopes, deltas and copies) for a batch or an evaluation chunk; and weights,
    gradients and copies."""
    rows, gates, head = max(batch, EVAL_CHUNK), LAYERS[m.cell].gates, parse_head(m.head)
    layer_inputs = [inputs] + [m.hidden] * (m.layers - 1)
    widths = (m.hidden, *head, 6)
    n_params = (sum(gates * m.hidden * (m.hidden + d + 1) for d in layer_inputs)
                + sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True)))
    return (4.0 * steps * rows * sum(m.hidden + d + 1 + 4 * gates * m.hidden for d in layer_inputs)
            + 8.0 * 6 * n_params)


def curve_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """Per-epoch table: cross-entropy (the trainer's 'loss'), accuracy and error rate, training and validation."""
    rows = [{**h, "train_cross_entropy": h["train_loss"], "val_cross_entropy": h["val_loss"],
             "train_error": 1 - h["train_accuracy"], "val_error": 1 - h["val_accuracy"]} for h in history]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@app.command(help=HELP)
def main(model_name: str = typer.Argument(..., metavar="MODEL", help="a key of params.yaml q3.models")) -> None:
    """Train one classifier once per seed; write the weights, curves, confusion matrices and summaries."""
    train_and_score(model_name, load(SCHEMA, PARAMS, model=model_name))


@dataclass
class SeedRun:
    """One seed's training (best parameters restored in result.params), input statistics, scores (see `scores`)
    and split."""

    seed: int
    scaler: Standardiser
    result: TrainResult
    train_scores: dict
    test_scores: dict
    split: Split


def build_model(m, acts: Activities, workers: int) -> RecurrentClassifier:
    """The classifier an entry `m` of q3.models describes (its cell, layers, width and head)."""
    return RecurrentClassifier(m.cell, n_inputs=acts.train_x.shape[2], hidden=m.hidden, head=parse_head(m.head),
                               n_classes=len(acts.classes), recurrent_init=m.recurrent_init,
                               recurrent_gain=m.recurrent_gain, layers=m.layers, workers=workers,
                               eval_chunk=EVAL_CHUNK)


def train_seed(model_name: str, p: Params, acts: Activities, groups: np.ndarray, seed: int) -> SeedRun:
    """Split, standardise, train and score the model `model_name` of params `p` with one seed."""
    q3, m = p.q3, p.q3.models[model_name]
    key = f"q3.models.{model_name}"
    split_rng, init_rng, shuffle_rng, augment_rng = purpose_rngs(seed)
    split = validation_split(acts, groups, q3.val_fraction, split_rng)
    check_batch("q3.batch_size", q3.batch_size, len(split.train), "windows")
    scaler = Standardiser.fit(acts.train_x[split.train], q3.standardise)
    train_set = (scaler(acts.train_x[split.train]), acts.train_y[split.train])
    val_set = (scaler(acts.train_x[split.val]), acts.train_y[split.val])
    augment = Augmenter(m.rotation, m.scale, m.jitter, scaler.mean, scaler.std, augment_rng)
    model = build_model(m, acts, q3.workers)
    try:
        result = train(
            model, model.init_params(init_rng, np.float32), train_set, optimizer=MomentumSGD(m.lr, q3.momentum),
            epochs=m.epochs, batch_size=q3.batch_size, rng=shuffle_rng, val_data=val_set, patience=m.patience,
            clip_norm=m.clip or None, lr_schedule=lr_schedule(m.schedule, m.lr, epochs=m.epochs, lr_min=m.lr_min),
            train_eval_size=q3.train_eval_size, eval_batch_size=EVAL_BATCH,
            augment=augment if augment.active else None,
            callback=epoch_printer(f"q3_train {model_name} seed {seed}", m.epochs),
        )
    except TrainingDiverged as err:
        raise diverged(f"q3_train {model_name} seed {seed}", err.epoch, err.loss,
                       {f"{key}.lr": m.lr, "q3.momentum": q3.momentum, f"{key}.recurrent_gain": m.recurrent_gain,
                        **{f"{key}.{a}": getattr(m, a) for a in AUGMENTATION_KEYS if getattr(m, a)}},
                       f"; a smaller {key}.clip (now {m.clip}, 0 = off) helps") from None
    n_classes = len(acts.classes)
    return SeedRun(seed, scaler, result, scores(model, result.params, *train_set, n_classes),
                   scores(model, result.params, scaler(acts.test_x), acts.test_y, n_classes), split)


def seed_summary(model_name: str, model: RecurrentClassifier, run: SeedRun, classes: tuple[str, ...]) -> dict:
    """results/q3/train/<model>/seed<k>/result.json."""
    r, best = run.result, run.result.history[run.result.best_epoch - 1]
    return {
        "model": model_name, "seed": run.seed,
        "test_accuracy": run.test_scores["accuracy"], "test_cross_entropy": run.test_scores["loss"],
        "train_accuracy": run.train_scores["accuracy"],
        "val_accuracy": best["val_accuracy"], "val_cross_entropy": best["val_loss"],
        "precision": dict(zip(classes, run.test_scores["precision"].round(6).tolist(), strict=True)),
        "recall": dict(zip(classes, run.test_scores["recall"].round(6).tolist(), strict=True)),
        "best_epoch": r.best_epoch, "stopped_epoch": r.stopped_epoch, "stop_reason": r.stop_reason,
        "parameters": model.count_params(run.result.params),
        "trials": run.split.trials, "val_windows": len(run.split.val),
        "val_overlapping_train": run.split.val_overlapping_train,
    }


def model_summary(model_name: str, seeds: list[dict]) -> dict:
    """results/q3/train/<model>/result.json: each score's spread over the seeds, the per-seed rows, the median seed
    (by validation cross-entropy)."""
    return {
        "model": model_name, **over_seeds(seeds, SPREAD_KEYS, "val_cross_entropy"),
        "parameters": seeds[0]["parameters"], "trials": seeds[0]["trials"],
        "val_windows": [s["val_windows"] for s in seeds],
        "val_overlapping_train": max(s["val_overlapping_train"] for s in seeds),
    }


def train_and_score(model_name: str, p: Params) -> None:
    """Train the model `model_name` of params `p` once per seed of q3.seeds (side by side) and write everything."""
    q3, m = p.q3, p.q3.models[model_name]
    acts = load_activities(p.data.data3)
    check_fits(f"q3.models.{model_name}", {"layers": m.layers, "hidden": m.hidden, "head": m.head},
               jobs(len(q3.seeds)) * memory_needed(acts.train_x.shape[1], acts.train_x.shape[2], m,
                                                   min(q3.batch_size, len(acts.train_x))))
    check_classes(acts, p.data.data3)
    units = test_units(acts, q3.trial_degrees)
    started = time.perf_counter()
    groups = train_trials(acts, q3.trial_degrees)
    runs = map_parallel(functools.partial(train_seed, model_name, p, acts, groups), q3.seeds)
    seconds = time.perf_counter() - started
    model = build_model(m, acts, q3.workers)
    summaries = [seed_summary(model_name, model, run, acts.classes) for run in runs]
    summary = model_summary(model_name, summaries)
    median = summary["median_seed"]
    curves = {run.seed: curve_frame(run.result.history) for run in runs}
    shown = runs[q3.seeds.index(median)]
    figures.use_agg()
    artifacts, plots, results = (folder / model_name for folder in (paths.Q3_TRAIN_ARTIFACTS, paths.Q3_TRAIN_PLOTS,
                                                                    paths.Q3_TRAIN_RESULTS))
    with outputs(artifacts, results, plots):
        for run, seed_result in zip(runs, summaries, strict=True):
            folder = seed_folder(run.seed)
            save_artifact(artifacts / folder / paths.MODEL, model, run.result.params, run.scaler)
            for split, sc in (("train", run.train_scores), ("test", run.test_scores)):
                io.write_csv(results / folder / f"confusion_{split}.csv", confusion_frame(sc["counts"], acts.classes))
            io.write_csv(results / folder / paths.TEST_PREDICTIONS,
                         prediction_frame(units, acts.test_y, run.test_scores["predicted"]))
            io.write_json(results / folder / paths.RESULT, seed_result)
        io.write_json(results / paths.RESULT, summary)
        io.write_csv(plots / paths.CURVES, stack_seeds(curves))
        of = f"seed {median}, the median validation cross-entropy of {len(runs)} seeds"
        figures.epoch_curve_figure(
            curves[median], CURVE_PANELS,
            f"Q3 {model_name}: {architecture(m.cell, m.layers, m.hidden)}, head {parse_head(m.head) or 'none'}, "
            f"lr {m.lr} ({of})",
            shown.result.best_epoch, plots / "curve.png", [c for s, c in curves.items() if s != median])
        for split, sc in (("train", shown.train_scores), ("test", shown.test_scores)):
            confusion_figure(sc["counts"], acts.classes,
                             f"{model_name} {split} set, {of}: accuracy {sc['accuracy']:.3f}",
                             plots / f"confusion_{split}.png")
    log_training(f"q3_train@{model_name}", seconds, {r.seed: (r.result.seconds, r.result.history) for r in runs})
    acc = summary["val_accuracy"]  # validation only: a run that chooses a setting must not show the test score
    print(f"q3_train {model_name}: validation accuracy {acc['mean']:.4f} +- {acc['std']:.4f} (min {acc['min']:.4f}, "
          f"max {acc['max']:.4f}) over seeds {q3.seeds}, {seconds:.1f}s; test scores are in the report",
          file=sys.stderr)


if __name__ == "__main__":
    run(app)
