"""Stage q3_train (Q3 a-c): train one recurrent activity classifier (rnn, lstm or gru), or score one.

    python -m pipeline.q3_train train --model gru --lr 0.1 ...      (one DVC stage per model)
    python -m pipeline.q3_train evaluate --model gru --data other.h5 [--confusion cm.csv]

Training: a stratified, shuffled validation split of trX (class proportions kept), inputs standardised
with the training split's per-channel statistics, mini-batch momentum SGD with optional gradient-norm
clipping, early stopping on the validation cross-entropy with the best parameters restored. The test
set is only scored, never used to choose anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from models.optim import MomentumSGD
from models.recurrent import RECURRENT_INITS
from models.schedules import SCHEDULES, lr_schedule
from models.sequence_classifier import RecurrentClassifier
from models.trainer import TrainingDiverged, evaluate, train
from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.data import load_activities
from pipeline.errors import UserError, make_app, run
from pipeline.progress import epoch_printer
from pipeline.q3_common import (
    CELLS,
    Standardiser,
    confusion_figure,
    confusion_frame,
    confusion_matrix,
    load_artifact,
    parse_head,
    precision_recall,
    save_artifact,
    stratified_split,
)

app = make_app(__doc__)
CURVE_COLUMNS = ["epoch", "lr", "seconds", "train_loss", "train_accuracy", "train_error", "val_loss",
                 "val_accuracy", "val_error"]
CURVE_PANELS = (("loss", "cross-entropy"), ("error", "error rate (1 - accuracy)"))
EVAL_BATCH = 1024


def curve_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """Per-epoch table: cross-entropy ('loss'), accuracy and error rate, training and validation."""
    rows = [{**h, "train_error": 1 - h["train_accuracy"], "val_error": 1 - h["val_accuracy"]} for h in history]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def scores(model: RecurrentClassifier, params, x: np.ndarray, y: np.ndarray, n_classes: int) -> dict:
    """Accuracy, cross-entropy, confusion counts and per-class precision / recall of `params` on (x, y)."""
    metrics = evaluate(model, params, (x, y), EVAL_BATCH)
    counts = confusion_matrix(y, model.predict(params, x).argmax(axis=1), n_classes)
    precision, recall = precision_recall(counts)
    return {"accuracy": metrics["accuracy"], "loss": metrics["loss"], "counts": counts,
            "precision": precision, "recall": recall}


@app.command("train")
def train_command(
    model_name: str = typer.Option(..., "--model", help=f"params.yaml key under q3.models: {', '.join(CELLS)}"),
    data: Path = typer.Option(Path("data/raw/data3.h5"), help="params.yaml data.data3"),
    hidden: int = typer.Option(128, help="params.yaml q3.models.<m>.hidden: recurrent units"),
    head: str = typer.Option("64", help="params.yaml q3.models.<m>.head: MLP head ReLU widths, '64,32' or 'none'"),
    lr: float = typer.Option(0.1, help="params.yaml q3.models.<m>.lr: learning rate (peak of the schedule)"),
    schedule: str = typer.Option("constant", help=f"params.yaml q3.models.<m>.schedule: {', '.join(SCHEDULES)}"),
    lr_min: float = typer.Option(0.0, help="params.yaml q3.models.<m>.lr_min: cosine schedule's last learning rate"),
    epochs: int = typer.Option(50, help="params.yaml q3.models.<m>.epochs: epoch limit"),
    patience: int = typer.Option(5, help="params.yaml q3.models.<m>.patience: epochs without validation improvement"),
    clip: float = typer.Option(0.0, help="params.yaml q3.models.<m>.clip: gradient-norm clipping threshold, 0 = off"),
    recurrent_init: str = typer.Option(
        "glorot", help=f"params.yaml q3.models.<m>.recurrent_init: {', '.join(RECURRENT_INITS)}"),
    recurrent_gain: float = typer.Option(1.0, help="params.yaml q3.models.<m>.recurrent_gain: factor on initial Wh"),
    momentum: float = typer.Option(0.85, help="params.yaml q3.momentum"),
    batch_size: int = typer.Option(32, help="params.yaml q3.batch_size"),
    val_fraction: float = typer.Option(0.1, help="params.yaml q3.val_fraction: stratified share of trX held out"),
    standardise: str = typer.Option("true", help="params.yaml q3.standardise: true/false, per-channel z-scores"),
    train_eval_size: int = typer.Option(540, help="params.yaml q3.train_eval_size: training rows scored per epoch"),
    workers: int = typer.Option(2, help="params.yaml q3.workers: threads per mini-batch"),
    seed: int = typer.Option(0, help="params.yaml q3.seed"),
    artifacts: Path = typer.Option(Path("artifacts/q3")),
    plots: Path = typer.Option(Path("plots/q3")),
    results: Path = typer.Option(Path("results/q3")),
) -> None:
    """Train one classifier; write its weights, curve, confusion matrices and summary."""
    key = f"q3.models.{model_name}"
    checks = ParamChecks()
    checks.choice("q3.models (key)", model_name, CELLS)
    checks.positive_int(f"{key}.hidden", hidden)
    try:
        head_widths = parse_head(head)
    except ValueError:
        checks.fail(f"{key}.head", head, "must be comma-separated positive integers or none")
        head_widths = ()
    checks.positive(f"{key}.lr", lr)
    checks.choice(f"{key}.schedule", schedule, SCHEDULES)
    checks.non_negative(f"{key}.lr_min", lr_min)
    if schedule == "cosine":
        checks.less(f"{key}.lr_min", lr_min, f"{key}.lr", lr)
    checks.positive_int(f"{key}.epochs", epochs)
    checks.positive_int(f"{key}.patience", patience)
    checks.non_negative(f"{key}.clip", clip)
    checks.choice(f"{key}.recurrent_init", recurrent_init, RECURRENT_INITS)
    checks.positive(f"{key}.recurrent_gain", recurrent_gain)
    checks.momentum("q3.momentum", momentum)
    checks.positive_int("q3.batch_size", batch_size)
    checks.open_unit("q3.val_fraction", val_fraction)
    checks.positive_int("q3.train_eval_size", train_eval_size)
    checks.positive_int("q3.workers", workers)
    checks.choice("q3.standardise", standardise.lower(), ("true", "false"))
    checks.non_negative_int("q3.seed", seed)
    checks.done()

    acts = load_activities(data)
    split_rng, init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    train_rows, val_rows = stratified_split(acts.train_y, val_fraction, split_rng)
    scaler = Standardiser.fit(acts.train_x[train_rows], standardise.lower() == "true")
    train_set = (scaler(acts.train_x[train_rows]), acts.train_y[train_rows])
    val_set = (scaler(acts.train_x[val_rows]), acts.train_y[val_rows])
    model = RecurrentClassifier(model_name, n_inputs=acts.train_x.shape[2], hidden=hidden, head=head_widths,
                                n_classes=len(acts.classes), recurrent_init=recurrent_init,
                                recurrent_gain=recurrent_gain, workers=workers)
    params = model.init_params(init_rng, np.float32)
    try:
        result = train(
            model, params, train_set, optimizer=MomentumSGD(lr, momentum), epochs=epochs, batch_size=batch_size,
            rng=shuffle_rng, val_data=val_set, patience=patience, clip_norm=clip or None,
            lr_schedule=lr_schedule(schedule, lr, epochs=epochs, lr_min=lr_min), train_eval_size=train_eval_size,
            eval_batch_size=EVAL_BATCH, callback=epoch_printer(f"q3_train {model_name}"),
        )
    except TrainingDiverged as err:
        raise UserError(
            f"q3_train {model_name}: training diverged at epoch {err.epoch} (loss {err.loss}); lower params.yaml "
            f"{key}.lr (now {lr}) or set {key}.clip (now {clip})"
        ) from None

    best = result.params
    n_classes = len(acts.classes)
    train_scores = scores(model, best, *train_set, n_classes)
    test_scores = scores(model, best, scaler(acts.test_x), acts.test_y, n_classes)
    figures.use_agg()
    save_artifact(Path(artifacts) / f"{model_name}.npz", model, best, scaler)
    curve = curve_frame(result.history)
    atomic.write_csv(Path(plots) / f"{model_name}_curve.csv", curve)
    figures.epoch_curve_figure(curve, CURVE_PANELS,
                               f"Q3 {model_name.upper()}: H = {hidden}, head {head_widths or 'none'}, lr {lr}",
                               result.best_epoch, Path(plots) / f"{model_name}_curve.png")
    for split, sc in (("train", train_scores), ("test", test_scores)):
        frame = confusion_frame(sc["counts"], acts.classes)
        atomic.write_csv(Path(results) / f"{model_name}_confusion_{split}.csv", frame)
        confusion_figure(sc["counts"], acts.classes,
                         f"{model_name.upper()} {split} set: accuracy {sc['accuracy']:.3f}",
                         Path(plots) / f"{model_name}_confusion_{split}.png")
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
        "wall_seconds": round(result.seconds, 2),
        "seconds_per_epoch": round(float(np.mean([h["seconds"] for h in result.history])), 3),
        "parameters": model.count_params(best),
    }
    atomic.write_json(Path(results) / f"{model_name}.json", summary)
    print(
        f"q3_train {model_name}: best epoch {result.best_epoch}, test accuracy {test_scores['accuracy']:.4f}, "
        f"{result.seconds:.1f}s ({result.stop_reason})",
        file=sys.stderr,
    )


@app.command("evaluate")
def evaluate_command(
    model_name: str = typer.Option(None, "--model", help="a trained model: artifacts/q3/<model>.npz"),
    artifact: Path = typer.Option(None, help="the model file itself (instead of --model)"),
    data: Path = typer.Option(..., help="a file in the data3 layout (trX, trY, tstX, tstY)"),
    split: str = typer.Option("test", help="which part of the file to score: test (tstX/tstY) or train"),
    confusion: Path = typer.Option(None, help="write the confusion matrix here (CSV)"),
    artifacts: Path = typer.Option(Path("artifacts/q3")),
) -> None:
    """Score a trained model on any data3-layout file: print accuracy, optionally write the confusion matrix."""
    if (model_name is None) == (artifact is None):
        raise UserError("give exactly one of --model or --artifact")
    if split not in ("test", "train"):
        raise UserError(f"--split = {split!r}: must be test or train")
    path = artifact if artifact is not None else Path(artifacts) / f"{model_name}.npz"
    model, params, scaler = load_artifact(path)
    acts = load_activities(data)
    x, y = (acts.test_x, acts.test_y) if split == "test" else (acts.train_x, acts.train_y)
    if x.shape[2] != model.n_inputs:
        raise UserError(f"{data}: sequences have {x.shape[2]} channels, the model expects {model.n_inputs}")
    sc = scores(model, params, scaler(x), y, len(acts.classes))
    if confusion is not None:
        atomic.write_csv(confusion, confusion_frame(sc["counts"], acts.classes))
    print(f"{path.name} on {data} ({split}, {len(y)} sequences): accuracy {sc['accuracy']:.4f}, "
          f"cross-entropy {sc['loss']:.4f}")


if __name__ == "__main__":
    run(app)
