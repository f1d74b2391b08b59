"""Stage q2_train@<name> (Q2 a): train one (D, P) trigram network with mini-batch momentum SGD.

Early stopping on the validation cross-entropy, best parameters restored (models.trainer.train).
Writes artifacts/q2/train/<name>/model.npz (weights), plots/q2/train/<name>/curve.csv and curve.png (per epoch:
train and validation cross-entropy and accuracy), results/q2/train/<name>/result.json (validation and test
cross-entropy and accuracy with the best parameters, stopping and best epoch, stop reason, parameter count);
the training time goes to logs/q2_train@<name>.json.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import typer
from threadpoolctl import threadpool_limits

from models.language import TrigramLM
from models.optim import MomentumSGD
from models.schedules import lr_schedule
from models.trainer import TrainingDiverged, evaluate, train
from pipeline.common import figures, io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.memory import check_fits
from pipeline.common.progress import epoch_printer
from pipeline.common.provenance import log_training
from pipeline.common.staging import outputs
from pipeline.q2.data import VOCAB_SIZE, load_trigrams
from pipeline.q2.network import artifact_path, save_network
from pipeline.q2.params import SCHEMA, TRAINING_KEYS

PARAMS = ("data.data2", "q2.sizes.{name}", *TRAINING_KEYS)
CURVE_COLUMNS = ["epoch", "lr", "train_cross_entropy", "train_accuracy", "val_cross_entropy", "val_accuracy"]
CURVE_PANELS = (("cross_entropy", "cross-entropy"), ("accuracy", "accuracy"))
DTYPES = {"float32": np.float32, "float64": np.float64}
EVAL_BATCH = 4096

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def memory_needed(dim: int, hidden: int) -> float:
    """Bytes a (dim, hidden) network needs while training, roughly: weights, gradients, velocities and the best
    copy (float64 at most), and the buffers of an evaluation chunk."""
    n_params = VOCAB_SIZE * dim + 3 * dim * hidden + hidden + hidden * VOCAB_SIZE + VOCAB_SIZE
    return 8.0 * (6 * n_params + EVAL_BATCH * (3 * dim + 3 * hidden + 3 * VOCAB_SIZE))


def curve_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    """The trainer's history as the per-epoch curve table (loss renamed cross-entropy)."""
    rows = [{**h, "train_cross_entropy": h["train_loss"], "val_cross_entropy": h["val_loss"]} for h in history]
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@app.command(help=HELP)
def main(name: str = typer.Argument(..., help="the network: a key of params.yaml q2.sizes (e.g. d32_p256)")) -> None:
    """Train the (dim, hidden) network `name` and write its weights, curves and results."""
    p = load(SCHEMA, PARAMS, name=name)
    q2, size = p.q2, p.q2.sizes[name]
    check_fits(f"q2.sizes.{name}", {"dim": size.dim, "hidden": size.hidden}, memory_needed(size.dim, size.hidden))
    trigrams = load_trigrams(p.data.data2)
    train_set = (trigrams.train_x, trigrams.train_d)
    val_set = (trigrams.val_x, trigrams.val_d)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(q2.seed).spawn(2))
    model = TrigramLM(vocab=VOCAB_SIZE, dim=size.dim, hidden=size.hidden, init_std=q2.init_std)
    params = model.init_params(init_rng, DTYPES[q2.dtype])
    schedule = lr_schedule(q2.schedule, q2.lr, epochs=size.epochs, lr_min=q2.lr_min, gamma=q2.gamma,
                           step_epochs=q2.step_epochs)
    try:
        with threadpool_limits(limits=q2.blas_threads, user_api="blas"):
            result = train(
                model, params, train_set, optimizer=MomentumSGD(q2.lr, q2.momentum), epochs=size.epochs,
                batch_size=q2.batch_size, rng=shuffle_rng, val_data=val_set, patience=q2.patience,
                min_delta=q2.min_delta, lr_schedule=schedule, train_eval_size=q2.train_eval_size,
                eval_batch_size=EVAL_BATCH, callback=epoch_printer(f"q2_train {name}"),
            )
    except TrainingDiverged as err:
        raise UserError(
            f"q2_train {name}: training diverged at epoch {err.epoch} (loss {err.loss}); "
            f"lower params.yaml q2.lr (now {q2.lr}) or q2.init_std (now {q2.init_std})"
        ) from None

    best = result.params
    val = evaluate(model, best, val_set, EVAL_BATCH)
    test = evaluate(model, best, (trigrams.test_x, trigrams.test_d), EVAL_BATCH)
    curve = curve_frame(result.history)
    figures.use_agg()
    plots, results = paths.Q2_TRAIN_PLOTS / name, paths.Q2_TRAIN_RESULTS / name
    summary = {
        "name": name, "dim": size.dim, "hidden": size.hidden,
        "val_cross_entropy": val["loss"], "val_accuracy": val["accuracy"],
        "test_cross_entropy": test["loss"], "test_accuracy": test["accuracy"],
        "best_epoch": result.best_epoch, "stopped_epoch": result.stopped_epoch, "stop_reason": result.stop_reason,
        "parameters": int(sum(a.size for a in best.values())),
    }
    with outputs(artifact_path(name).parent, results, plots):
        save_network(artifact_path(name), model, best)
        io.write_csv(plots / paths.CURVE, curve)
        figures.epoch_curve_figure(curve, CURVE_PANELS, f"Q2 network {name}: D = {size.dim}, P = {size.hidden}",
                                   result.best_epoch, plots / "curve.png")
        io.write_json(results / paths.RESULT, summary)
    log_training(f"q2_train@{name}", result.seconds, result.history)
    print(
        f"q2_train {name}: best epoch {result.best_epoch}, val CE {val['loss']:.4f} acc {val['accuracy']:.4f}, "
        f"test CE {test['loss']:.4f} acc {test['accuracy']:.4f}, {result.seconds:.1f}s ({result.stop_reason})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    run(app)
