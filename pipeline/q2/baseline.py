"""Stage q2_baseline (beyond the assignment): what counting alone predicts (interpolated 1- to 4-gram model).

pipeline.q2.ngram: relative frequencies of the 4th word given the last 3, 2, 1 and 0 context words of the
training 4-grams, mixed with weights fitted on the validation set (EM); the test set is scored once. Writes
results/q2/baseline/counts.json (weights, validation and test cross-entropy and accuracy); the report puts
every (D, P) network beside it.
"""

from __future__ import annotations

from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.staging import outputs
from pipeline.q2.data import VOCAB_SIZE, load_trigrams
from pipeline.q2.ngram import ORDERS, CountModel, fit_weights, score
from pipeline.q2.params import SCHEMA

PARAMS = ("data.data2",)

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


@app.command(help=HELP)
def main() -> None:
    """Count the training 4-grams, fit the interpolation on validation, score validation and test."""
    trigrams = load_trigrams(load(SCHEMA, PARAMS).data.data2)
    model = CountModel(trigrams.train_x, trigrams.train_d, VOCAB_SIZE)
    weights = fit_weights(model, trigrams.val_x, trigrams.val_d)
    val = score(model, weights, trigrams.val_x, trigrams.val_d)
    test = score(model, weights, trigrams.test_x, trigrams.test_d)
    names = [f"{k + 1}-gram" for k in ORDERS] + ["uniform"]
    result = {"weights": dict(zip(names, weights.round(6).tolist(), strict=True)),
              "val_cross_entropy": val["cross_entropy"], "val_accuracy": val["accuracy"],
              "test_cross_entropy": test["cross_entropy"], "test_accuracy": test["accuracy"]}
    with outputs(paths.Q2_BASELINE_RESULTS):
        io.write_json(paths.Q2_BASELINE_RESULTS / "counts.json", result)
    print(f"q2_baseline: interpolated counts, val CE {val['cross_entropy']:.4f}, test CE {test['cross_entropy']:.4f}, "
          f"test accuracy {test['accuracy']:.4f}")


if __name__ == "__main__":
    run(app)
