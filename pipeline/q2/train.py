"""Stage q2_train@<name> (Q2 a): train one (D, P) trigram network with mini-batch momentum SGD.

Early stopping on the validation cross-entropy, best parameters restored (models.trainer.train). The network is
trained once per seed of params.yaml q2.seeds, side by side on the machine's cores (pipeline.common.parallel).
Per seed k: artifacts/q2/train/<name>/seed<k>/model.npz (weights) and results/q2/train/<name>/seed<k>/result.json
(validation and test cross-entropy and accuracy with the best parameters, stopping and best epoch, stop reason,
parameter count). Over the seeds: plots/q2/train/<name>/curves.csv (one row per epoch of every seed: learning rate,
train and validation cross-entropy and accuracy; `dvc plots` draws the seeds side by side),
results/q2/train/<name>/result.json (mean, std, min, max of each score, the per-seed rows, the median seed by
validation cross-entropy) and plots/q2/train/<name>/curve.png (the median seed, the others' validation curves in
grey). The training times go to logs/q2_train@<name>.json.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import typer

from models.language import TrigramLM
from models.optim import MomentumSGD
from models.schedules import lr_schedule
from models.trainer import TrainingDiverged, TrainResult, evaluate, train
from pipeline.common import figures, io, paths
from pipeline.common.config import Params, load, stage_help
from pipeline.common.errors import diverged, make_app, run
from pipeline.common.memory import check_batch, check_fits
from pipeline.common.parallel import jobs, map_parallel
from pipeline.common.progress import epoch_printer
from pipeline.common.provenance import log_training
from pipeline.common.seeds import over_seeds, seed_folder, stack_seeds
from pipeline.common.staging import outputs
from pipeline.q2.data import VOCAB_SIZE, Trigrams, load_trigrams
from pipeline.q2.network import artifact_path, save_network
from pipeline.q2.params import SCHEMA, TRAINING_KEYS

PARAMS = ("data.data2", "q2.sizes.{name}", *TRAINING_KEYS)
CURVE_COLUMNS = ["epoch", "lr", "train_cross_entropy", "train_accuracy", "val_cross_entropy", "val_accuracy"]
CURVE_PANELS = (("cross_entropy", "cross-entropy"), ("accuracy", "accuracy"))
DTYPES = {"float32": np.float32, "float64": np.float64}
EVAL_BATCH = 4096
SPREAD_KEYS = ("val_cross_entropy", "val_accuracy", "test_cross_entropy", "test_accuracy")  # mean, std, min, max

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
    """Train the (dim, hidden) network `name` once per seed and write its weights, curves and results."""
    p = load(SCHEMA, PARAMS, name=name)
    q2, size = p.q2, p.q2.sizes[name]
    check_fits(f"q2.sizes.{name}", {"dim": size.dim, "hidden": size.hidden},
               jobs(len(q2.seeds)) * memory_needed(size.dim, size.hidden))
    trigrams = load_trigrams(p.data.data2)
    check_batch("q2.batch_size", q2.batch_size, len(trigrams.train_x), "trigrams")
    started = time.perf_counter()
    runs = map_parallel(functools.partial(train_seed, name, p, trigrams), q2.seeds)
    seconds = time.perf_counter() - started
    model = TrigramLM(vocab=VOCAB_SIZE, dim=size.dim, hidden=size.hidden, init_std=q2.init_std)
    summaries = [seed_summary(name, size, run) for run in runs]
    summary = {"name": name, "dim": size.dim, "hidden": size.hidden,
               **over_seeds(summaries, SPREAD_KEYS, "val_cross_entropy"), "parameters": summaries[0]["parameters"]}
    median = summary["median_seed"]
    curves = {run.seed: curve_frame(run.result.history) for run in runs}
    figures.use_agg()
    plots, results = paths.Q2_TRAIN_PLOTS / name, paths.Q2_TRAIN_RESULTS / name
    with outputs(paths.Q2_TRAIN_ARTIFACTS / name, results, plots):
        for run, seed_result in zip(runs, summaries, strict=True):
            save_network(artifact_path(name, run.seed), model, run.result.params)
            io.write_json(results / seed_folder(run.seed) / paths.RESULT, seed_result)
        io.write_json(results / paths.RESULT, summary)
        io.write_csv(plots / paths.CURVES, stack_seeds(curves))
        figures.epoch_curve_figure(
            curves[median], CURVE_PANELS, f"Q2 network {name}: D = {size.dim}, P = {size.hidden} (seed {median}, "
            f"the median validation cross-entropy of {len(runs)} seeds)",
            runs[q2.seeds.index(median)].result.best_epoch, plots / "curve.png",
            [c for s, c in curves.items() if s != median])
    log_training(f"q2_train@{name}", seconds, {r.seed: (r.result.seconds, r.result.history) for r in runs})
    ce = summary["val_cross_entropy"]
    print(f"q2_train {name}: val CE {ce['mean']:.4f} +- {ce['std']:.4f} (min {ce['min']:.4f}, max {ce['max']:.4f}), "
          f"test CE {summary['test_cross_entropy']['mean']:.4f}, test acc {summary['test_accuracy']['mean']:.4f} "
          f"over seeds {q2.seeds}, {seconds:.1f}s", file=sys.stderr)


@dataclass
class SeedRun:
    """One seed's training (best parameters restored) and its validation and test scores."""

    seed: int
    result: TrainResult
    val: dict[str, float]
    test: dict[str, float]


def train_seed(name: str, p: Params, trigrams: Trigrams, seed: int) -> SeedRun:
    """Train the network `name` of params `p` with one seed; score the best parameters on validation and test."""
    q2, size = p.q2, p.q2.sizes[name]
    train_set, val_set = (trigrams.train_x, trigrams.train_d), (trigrams.val_x, trigrams.val_d)
    init_rng, shuffle_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    model = TrigramLM(vocab=VOCAB_SIZE, dim=size.dim, hidden=size.hidden, init_std=q2.init_std)
    schedule = lr_schedule(q2.schedule, size.lr, epochs=size.epochs, lr_min=q2.lr_min, gamma=q2.gamma,
                           step_epochs=q2.step_epochs)
    try:
        result = train(
            model, model.init_params(init_rng, DTYPES[q2.dtype]), train_set,
            optimizer=MomentumSGD(size.lr, q2.momentum, size.weight_decay), epochs=size.epochs,
            batch_size=q2.batch_size, rng=shuffle_rng, val_data=val_set, patience=q2.patience,
            min_delta=q2.min_delta, lr_schedule=schedule, train_eval_size=q2.train_eval_size,
            eval_batch_size=EVAL_BATCH, callback=epoch_printer(f"q2_train {name} seed {seed}", size.epochs),
        )
    except TrainingDiverged as err:
        key = f"q2.sizes.{name}"
        raise diverged(f"q2_train {name} seed {seed}", err.epoch, err.loss,
                       {f"{key}.lr": size.lr, f"{key}.weight_decay": size.weight_decay, "q2.momentum": q2.momentum,
                        "q2.init_std": q2.init_std}) from None
    return SeedRun(seed, result, evaluate(model, result.params, val_set, EVAL_BATCH),
                   evaluate(model, result.params, (trigrams.test_x, trigrams.test_d), EVAL_BATCH))


def seed_summary(name: str, size, run: SeedRun) -> dict:
    """results/q2/train/<name>/seed<k>/result.json."""
    r = run.result
    return {"name": name, "seed": run.seed, "dim": size.dim, "hidden": size.hidden,
            "val_cross_entropy": run.val["loss"], "val_accuracy": run.val["accuracy"],
            "test_cross_entropy": run.test["loss"], "test_accuracy": run.test["accuracy"],
            "best_epoch": r.best_epoch, "stopped_epoch": r.stopped_epoch, "stop_reason": r.stop_reason,
            "parameters": int(sum(a.size for a in r.params.values()))}


if __name__ == "__main__":
    run(app)
