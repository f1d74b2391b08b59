"""Stage q2_train@<name> (Q2 a): train one (D, P) trigram network with mini-batch momentum SGD.

Early stopping on the validation cross-entropy, best parameters restored (models.trainer.train).
Writes artifacts/q2/<name>.npz (weights), plots/q2/<name>_curve.csv and .png (per epoch: train and
validation cross-entropy and accuracy), results/q2/<name>.json (validation and test cross-entropy and
accuracy with the best parameters, stopping and best epoch, stop reason, training seconds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from models import blas
from models.language import TrigramLM
from models.optim import MomentumSGD
from models.schedules import SCHEDULES, lr_schedule
from models.trainer import TrainingDiverged, evaluate, train
from pipeline import atomic, figures
from pipeline.checks import ParamChecks
from pipeline.data import VOCAB_SIZE, load_trigrams
from pipeline.errors import UserError, make_app, run
from pipeline.progress import epoch_printer
from pipeline.q2_network import artifact_path, save_network

CURVE_COLUMNS = ["epoch", "lr", "train_cross_entropy", "train_accuracy", "val_cross_entropy", "val_accuracy",
                 "seconds"]
CURVE_PANELS = (("cross_entropy", "cross-entropy"), ("accuracy", "accuracy"))
DTYPES = {"float32": np.float32, "float64": np.float64}
EVAL_BATCH = 4096

app = make_app(__doc__)


def curve_path(plots: Path, name: str, suffix: str) -> Path:
    """plots/q2/<name>_curve.<suffix>."""
    return Path(plots) / f"{name}_curve.{suffix}"


def curve_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """The trainer's history as the per-epoch curve table (loss renamed cross-entropy)."""
    rows = [{**h, "train_cross_entropy": h["train_loss"], "val_cross_entropy": h["val_loss"]} for h in history]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@app.command()
def main(
    name: str = typer.Option(..., help="network name, the key under params.yaml q2.sizes (e.g. d32_p256)"),
    dim: int = typer.Option(..., help="params.yaml q2.sizes.<name>.dim: D, embedding size"),
    hidden: int = typer.Option(..., help="params.yaml q2.sizes.<name>.hidden: P, sigmoid hidden units"),
    data: Path = typer.Option(Path("data/raw/data2.h5"), help="params.yaml data.data2"),
    batch_size: int = typer.Option(200, help="params.yaml q2.batch_size"),
    lr: float = typer.Option(0.15, help="params.yaml q2.lr: learning rate (peak of the schedule)"),
    momentum: float = typer.Option(0.85, help="params.yaml q2.momentum: classical momentum alpha"),
    epochs: int = typer.Option(50, help="params.yaml q2.sizes.<name>.epochs: epoch limit (and the cosine period)"),
    patience: int = typer.Option(5, help="params.yaml q2.patience: epochs without validation improvement"),
    min_delta: float = typer.Option(0.0, help="params.yaml q2.min_delta: improvement that counts"),
    init_std: float = typer.Option(0.01, help="params.yaml q2.init_std: Gaussian std of weights and biases"),
    schedule: str = typer.Option("constant", help=f"params.yaml q2.schedule: {', '.join(SCHEDULES)}"),
    lr_min: float = typer.Option(0.0, help="params.yaml q2.lr_min: final learning rate of 'cosine'"),
    gamma: float = typer.Option(0.5, help="params.yaml q2.gamma: factor of 'step'"),
    step_epochs: int = typer.Option(10, help="params.yaml q2.step_epochs: epochs between 'step' decays"),
    train_eval_size: int = typer.Option(50000, help="params.yaml q2.train_eval_size: rows for the train curve"),
    dtype: str = typer.Option("float32", help="params.yaml q2.dtype: float32 or float64"),
    seed: int = typer.Option(0, help="params.yaml q2.seed: initialisation and shuffling"),
    blas_threads: int = typer.Option(1, help="params.yaml q2.blas_threads: BLAS threads while training"),
    artifacts: Path = typer.Option(Path("artifacts/q2"), help="folder of <name>.npz"),
    plots: Path = typer.Option(Path("plots/q2"), help="folder of <name>_curve.csv/png"),
    results: Path = typer.Option(Path("results/q2"), help="folder of <name>.json"),
) -> None:
    """Train the (dim, hidden) network `name` and write its weights, curves and results."""
    key = f"q2.sizes.{name}"
    checks = ParamChecks()
    checks.name("q2.sizes (key)", name)
    checks.positive_int(f"{key}.dim", dim)
    checks.positive_int(f"{key}.hidden", hidden)
    checks.positive_int("q2.batch_size", batch_size)
    checks.positive("q2.lr", lr)
    checks.momentum("q2.momentum", momentum)
    checks.positive_int(f"{key}.epochs", epochs)
    checks.positive_int("q2.patience", patience)
    checks.non_negative("q2.min_delta", min_delta)
    checks.positive("q2.init_std", init_std)
    checks.choice("q2.schedule", schedule, SCHEDULES)
    checks.non_negative("q2.lr_min", lr_min)
    if schedule == "cosine":
        checks.less("q2.lr_min", lr_min, "q2.lr", lr)
    checks.factor("q2.gamma", gamma)
    checks.positive_int("q2.step_epochs", step_epochs)
    checks.positive_int("q2.train_eval_size", train_eval_size)
    checks.choice("q2.dtype", dtype, DTYPES)
    checks.non_negative_int("q2.seed", seed)
    checks.positive_int("q2.blas_threads", blas_threads)
    checks.done()

    trigrams = load_trigrams(data)
    train_set = (trigrams.train_x, trigrams.train_d)
    val_set = (trigrams.val_x, trigrams.val_d)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    model = TrigramLM(vocab=VOCAB_SIZE, dim=dim, hidden=hidden, init_std=init_std)
    params = model.init_params(init_rng, DTYPES[dtype])
    schedule_fn = lr_schedule(schedule, lr, epochs=epochs, lr_min=lr_min, gamma=gamma, step_epochs=step_epochs)
    try:
        with blas.blas_threads(blas_threads):
            result = train(
                model, params, train_set, optimizer=MomentumSGD(lr, momentum), epochs=epochs,
                batch_size=batch_size, rng=shuffle_rng, val_data=val_set, patience=patience, min_delta=min_delta,
                lr_schedule=schedule_fn, train_eval_size=train_eval_size, eval_batch_size=EVAL_BATCH,
                callback=epoch_printer(f"q2_train {name}"),
            )
    except TrainingDiverged as err:
        raise UserError(
            f"q2_train {name}: training diverged at epoch {err.epoch} (loss {err.loss}); "
            f"lower params.yaml q2.lr (now {lr}) or q2.init_std (now {init_std})"
        ) from None

    best = result.params
    val = evaluate(model, best, val_set, EVAL_BATCH)
    test = evaluate(model, best, (trigrams.test_x, trigrams.test_d), EVAL_BATCH)
    curve = curve_frame(result.history)
    figures.use_agg()
    save_network(artifact_path(artifacts, name), best)
    atomic.write_csv(curve_path(plots, name, "csv"), curve)
    figures.epoch_curve_figure(curve, CURVE_PANELS, f"Q2 network {name}: D = {dim}, P = {hidden}",
                               result.best_epoch, curve_path(plots, name, "png"))
    summary = {
        "name": name, "dim": dim, "hidden": hidden,
        "val_cross_entropy": val["loss"], "val_accuracy": val["accuracy"],
        "test_cross_entropy": test["loss"], "test_accuracy": test["accuracy"],
        "best_epoch": result.best_epoch, "stopped_epoch": result.stopped_epoch, "stop_reason": result.stop_reason,
        "train_seconds": round(result.seconds, 2),
    }
    atomic.write_json(Path(results) / f"{name}.json", summary)
    print(
        f"q2_train {name}: best epoch {result.best_epoch}, val CE {val['loss']:.4f} acc {val['accuracy']:.4f}, "
        f"test CE {test['loss']:.4f} acc {test['accuracy']:.4f}, {result.seconds:.1f}s ({result.stop_reason})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    run(app)
