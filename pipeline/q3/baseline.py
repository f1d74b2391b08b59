"""Stage q3_baseline (beyond the assignment): what 36 summary statistics of a window give (softmax regression).

pipeline.q3.features: nine statistics of each axis and of the magnitude, standardised with training statistics;
softmax regression with weight decay, fitted by L-BFGS on the same training windows as the networks (the same
trial-disjoint split of whole trials, drawn per seed of q3.seeds as the networks' splits are); per seed, the weight
decay of q3.baseline.weight_decay with the best validation accuracy is kept and the test set is scored once.
Writes results/q3/baseline/summary_softmax.json (per-seed rows and the test accuracy's spread over the seeds) and
results/q3/baseline/seed<k>/test_predictions.csv (trial, fragment, true and predicted class of every test window,
for the intervals of q3_compare).
"""

from __future__ import annotations

import numpy as np

from pipeline.common import io, paths
from pipeline.common.config import load, stage_help
from pipeline.common.errors import make_app, run
from pipeline.common.seeds import seed_folder, spread
from pipeline.common.staging import outputs
from pipeline.q3.data import Activities, load_activities
from pipeline.q3.evaluation import (
    check_classes,
    prediction_frame,
    purpose_rngs,
    test_units,
    train_trials,
    validation_split,
)
from pipeline.q3.features import accuracy, fit_softmax, predict, summary_features
from pipeline.q3.params import SCHEMA

PARAMS = ("data.data3", "q3.val_fraction", "q3.trial_degrees", "q3.seeds", "q3.baseline")

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def fit_seed(acts: Activities, groups: np.ndarray, features: np.ndarray, test_features: np.ndarray, fraction: float,
             decays: list[float], seed: int) -> tuple[dict, np.ndarray]:
    """One seed's split: fit every weight decay, keep the best on validation, score it on the test set. Returns the
    seed's summary row and its predicted class of every test window."""
    split = validation_split(acts, groups, fraction, purpose_rngs(seed)[0])
    mean, std = features[split.train].mean(axis=0), features[split.train].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    standard, test = (features - mean) / std, (test_features - mean) / std
    fits = {lam: fit_softmax(standard[split.train], acts.train_y[split.train], len(acts.classes), lam)
            for lam in decays}
    val = {lam: accuracy(params, standard[split.val], acts.train_y[split.val]) for lam, params in fits.items()}
    chosen = max(val, key=lambda lam: (val[lam], -lam))  # ties: the stronger decay
    predicted = predict(fits[chosen], test)
    return ({"seed": seed, "val_accuracy": {f"{lam:g}": acc for lam, acc in val.items()}, "weight_decay": chosen,
             "test_accuracy": float(np.mean(predicted == acts.test_y))}, predicted)


@app.command(help=HELP)
def main() -> None:
    """Fit softmax regression on window statistics for each weight decay and seed; keep the best on validation."""
    p = load(SCHEMA, PARAMS)
    acts = load_activities(p.data.data3)
    check_classes(acts, p.data.data3)
    features, test_features = summary_features(acts.train_x), summary_features(acts.test_x)
    groups = train_trials(acts, p.q3.trial_degrees)
    fits = [fit_seed(acts, groups, features, test_features, p.q3.val_fraction, p.q3.baseline.weight_decay, seed)
            for seed in p.q3.seeds]
    per_seed = [row for row, _ in fits]
    result = {"features": int(features.shape[1]), "seeds": p.q3.seeds,
              "test_accuracy": spread([r["test_accuracy"] for r in per_seed]), "per_seed": per_seed}
    units = test_units(acts, p.q3.trial_degrees)
    with outputs(paths.Q3_BASELINE_RESULTS):
        io.write_json(paths.Q3_BASELINE_RESULTS / "summary_softmax.json", result)
        for seed, (_, predicted) in zip(p.q3.seeds, fits, strict=True):
            io.write_csv(paths.Q3_BASELINE_RESULTS / seed_folder(seed) / paths.TEST_PREDICTIONS,
                         prediction_frame(units, acts.test_y, predicted))
    acc, decays = result["test_accuracy"], ", ".join(f"{r['weight_decay']:g}" for r in per_seed)
    print(f"q3_baseline: softmax regression on {features.shape[1]} window statistics, weight decay "
          f"{decays} (seeds {p.q3.seeds}), test accuracy "
          f"{acc['mean']:.4f} +- {acc['std']:.4f}")


if __name__ == "__main__":
    run(app)
