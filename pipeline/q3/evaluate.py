"""Score trained Q3 classifiers on any file in the data3 layout (not a DVC stage; a command for users):

    python -m pipeline.q3.evaluate --model gru --data other.h5 [--split test] [--confusion cm.csv]

--model scores the model of every seed q3_train trained (artifacts/q3/train/<model>/seed<k>/model.npz) and prints
each accuracy and their mean and spread; --artifact scores one model file (and --confusion writes its matrix).
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.common import io, paths
from pipeline.common.errors import UserError, make_app, run
from pipeline.common.seeds import spread
from pipeline.q3.data import ACTIVITIES, load_windows
from pipeline.q3.evaluation import confusion_frame, load_artifact, scores

app = make_app(__doc__)


@app.command(help=__doc__)
def main(
    model_name: str = typer.Option(None, "--model", help="a trained model: artifacts/q3/train/<model>/seed*/model.npz"),
    artifact: Path = typer.Option(None, help="the model file itself (instead of --model)"),
    data: Path = typer.Option(..., help="a file in the data3 layout (tstX/tstY for --split test, trX/trY for train)"),
    split: str = typer.Option("test", help="which part of the file to score: test (tstX/tstY) or train"),
    confusion: Path = typer.Option(None, help="write the confusion matrix here (CSV)"),
) -> None:
    """Score a trained model on any data3-layout file: print accuracy, optionally write the confusion matrix."""
    if (model_name is None) == (artifact is None):
        raise UserError("give exactly one of --model or --artifact")
    if split not in ("test", "train"):
        raise UserError(f"--split = {split!r}: must be test or train")
    if artifact is not None:
        files = [artifact]
    else:
        folder = paths.Q3_TRAIN_ARTIFACTS / model_name
        files = sorted((f for f in folder.glob("seed*/" + paths.MODEL) if f.parent.name.removeprefix("seed").isdigit()),
                       key=lambda f: int(f.parent.name.removeprefix("seed")))
        if not files:
            raise UserError(f"{folder}: no trained model (seed*/{paths.MODEL}); run `dvc repro q3_train@{model_name}`")
    if confusion is not None and len(files) > 1:
        raise UserError("--confusion needs one model: give --artifact artifacts/q3/train/<model>/seed<k>/model.npz")
    x, y = load_windows(data, split)
    accuracies = []
    for path in files:
        model, params, scaler = load_artifact(path)
        if x.shape[2] != model.n_inputs:
            raise UserError(f"{data}: sequences have {x.shape[2]} channels, the model expects {model.n_inputs}")
        sc = scores(model, params, scaler(x), y, len(ACTIVITIES))
        accuracies.append(sc["accuracy"])
        if confusion is not None:
            io.write_csv(confusion, confusion_frame(sc["counts"], ACTIVITIES))
        print(f"{path} on {data} ({split}, {len(y)} sequences): accuracy {sc['accuracy']:.4f}, "
              f"cross-entropy {sc['loss']:.4f}")
    if len(files) > 1:
        acc = spread(accuracies)
        print(f"{model_name} over {len(files)} seeds: accuracy {acc['mean']:.4f} +- {acc['std']:.4f} "
              f"(min {acc['min']:.4f}, max {acc['max']:.4f})")

if __name__ == "__main__":
    run(app)
