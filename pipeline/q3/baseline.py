"""Stage q3_baseline (beyond the assignment): what 36 summary statistics of a window give (softmax regression).

pipeline.q3.features: nine statistics of each axis and of the magnitude, standardised with training statistics;
softmax regression with weight decay, fitted by L-BFGS on the same training windows as the networks (the same
leak-free split of whole recordings); the weight decay of q3.baseline.weight_decay with the best validation
accuracy is kept and the test set is scored once. Writes results/q3/baseline/summary_softmax.json.
"""

from __future__ import annotations

import numpy as np

from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.staging import outputs
from pipeline.q3.data import load_activities
from pipeline.q3.evaluation import validation_split
from pipeline.q3.features import accuracy, fit_softmax, summary_features
from pipeline.q3.params import SCHEMA

PARAMS = ("data.data3", "q3.val_fraction", "q3.seed", "q3.baseline")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


@app.command(help=HELP)
def main() -> None:
    """Fit softmax regression on window statistics for each weight decay; keep the best on validation."""
    p = load(SCHEMA, PARAMS)
    acts = load_activities(p.data.data3)
    split = validation_split(acts, p.q3)
    features = summary_features(acts.train_x)
    mean, std = features[split.train].mean(axis=0), features[split.train].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    standard = (features - mean) / std
    test = (summary_features(acts.test_x) - mean) / std
    n_classes = len(acts.classes)
    fits = {lam: fit_softmax(standard[split.train], acts.train_y[split.train], n_classes, lam)
            for lam in p.q3.baseline.weight_decay}
    val = {lam: accuracy(params, standard[split.val], acts.train_y[split.val]) for lam, params in fits.items()}
    chosen = max(val, key=lambda lam: (val[lam], -lam))  # ties: the stronger decay
    result = {"val_accuracy": {f"{lam:g}": acc for lam, acc in val.items()}, "weight_decay": chosen,
              "test_accuracy": accuracy(fits[chosen], test, acts.test_y), "features": int(features.shape[1])}
    with outputs(paths.Q3_BASELINE_RESULTS):
        io.write_json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json", result)
    print(f"q3_baseline: softmax regression on {features.shape[1]} window statistics, weight decay {chosen:g} "
          f"(validation accuracy {val[chosen]:.4f}), test accuracy {result['test_accuracy']:.4f}")


if __name__ == "__main__":
    run(app)
