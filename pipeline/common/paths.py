"""Every file the pipeline writes or reads besides params.yaml's data paths, relative to the repository root.

Each stage writes into folders of its own (`<kind>/<study>/<stage>[/<entry>]`), so a summary stage depends
on a folder and a new entry of q2.sizes or q3.models needs no other edit:

    artifacts/  trained weights, one `model.npz` per network (git: a few MB, so a clone is up to date)
    results/    tables and per-network JSON (git)
    plots/      figures and per-epoch curves (git); every file is drawn by `dvc plots` (dvc.yaml `plots:`,
                templates in .dvc/plots/)
    metrics/    the headline numbers of each study (git)
"""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path("artifacts")
RESULTS = Path("results")
PLOTS = Path("plots")
METRICS = Path("metrics")
LOGS = Path("logs")  # each stage's last run: seconds, threads, versions (not tracked: see provenance.write_log)
MODEL = "model.npz"  # the artifact of every trained network (pipeline.common.artifact)
RESULT = "result.json"  # per-network summary
CURVE = "curve.csv"  # per-epoch (or per-iteration) curve of one network (Q1)
CURVES = "curves.csv"  # long format: one row per epoch (or step) of every seed (Q2, Q3) or configuration (Q1 sweep)
TEST_PREDICTIONS = "test_predictions.csv"  # Q3: trial, fragment, true and predicted class of every test window

# Q1
Q1_PREPROCESS_RESULTS = RESULTS / "q1" / "preprocess"
Q1_PREPROCESS_PLOTS = PLOTS / "q1" / "preprocess"
Q1_SEARCH_RESULTS, Q1_SEARCH_PLOTS = RESULTS / "q1" / "search", PLOTS / "q1" / "search"
Q1_TRAIN_ARTIFACTS = ARTIFACTS / "q1" / "train"
Q1_TRAIN_RESULTS = RESULTS / "q1" / "train"
Q1_TRAIN_PLOTS = PLOTS / "q1" / "train"
Q1_SWEEP_ARTIFACTS = ARTIFACTS / "q1" / "sweep"
Q1_SWEEP_RESULTS = RESULTS / "q1" / "sweep"
Q1_SWEEP_PLOTS = PLOTS / "q1" / "sweep"
Q1_BASELINE_RESULTS = RESULTS / "q1" / "baseline"
Q1_SUMMARY_RESULTS = RESULTS / "q1" / "sweep_summary"
Q1_SUMMARY_PLOTS = PLOTS / "q1" / "sweep_summary"
Q1_METRICS = METRICS / "q1.json"

# Q2
Q2_TRAIN_ARTIFACTS = ARTIFACTS / "q2" / "train"
Q2_TRAIN_RESULTS = RESULTS / "q2" / "train"
Q2_TRAIN_PLOTS = PLOTS / "q2" / "train"
Q2_BASELINE_RESULTS = RESULTS / "q2" / "baseline"
Q2_SUMMARY_PLOTS = PLOTS / "q2" / "summary"
Q2_SUMMARY_CURVES = Q2_SUMMARY_PLOTS / "val_cross_entropy.csv"  # epoch, network, seed, val_cross_entropy
Q2_PREDICT_RESULTS, Q2_PREDICT_PLOTS = RESULTS / "q2" / "predict", PLOTS / "q2" / "predict"
Q2_EMBEDDINGS_RESULTS = RESULTS / "q2" / "embeddings"
Q2_EMBEDDINGS_PLOTS = PLOTS / "q2" / "embeddings"
Q2_METRICS = METRICS / "q2.json"

# Q3
Q3_TRAIN_ARTIFACTS = ARTIFACTS / "q3" / "train"
Q3_TRAIN_RESULTS = RESULTS / "q3" / "train"
Q3_TRAIN_PLOTS = PLOTS / "q3" / "train"
Q3_COMPARE_RESULTS, Q3_COMPARE_PLOTS = RESULTS / "q3" / "compare", PLOTS / "q3" / "compare"
Q3_COMPARE_CURVES = Q3_COMPARE_PLOTS / "val_accuracy.csv"  # epoch, model, seed, val_accuracy
Q3_BASELINE_RESULTS = RESULTS / "q3" / "baseline"
Q3_METRICS = METRICS / "q3.json"

# report
REPORT_MD, REPORT_HTML = Path("REPORT.md"), Path("report.html")
RUNS_HTML = LOGS / "runs.html"  # the last runs' times, threads and BLAS on this machine (not tracked, as logs/)
