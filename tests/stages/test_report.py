"""The report stage: sections, figures, self-contained HTML, numbers that match the metrics, computed comparisons.

REPORT.md (git-tracked) holds no wall-clock time; report.html is the same blocks plus the "Runs of this checkout"
table read from logs/. The `real_report` tests write the report from the pipeline's outputs in the checkout and
skip until they exist (CI runs them after `dvc repro`); the others use small synthetic outputs.
"""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.common import paths, readers
from pipeline.common.document import Bullets, Figure, Heading, Paragraph, Table
from pipeline.common.errors import UserError
from pipeline.common.provenance import log_training, read_logs
from pipeline.common.seeds import seed_folder
from pipeline.q3.compare import TABLE_COLUMNS
from pipeline.report import write
from pipeline.report.q2 import weight_decay
from pipeline.report.q3 import confusions, difference, q3_section
from pipeline.report.sources import Sources, change, pct, points, trend
from tests.conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
HEADINGS = ("### Q1 (a)", "### Q1 (b)", "### Q1 (c)", "### Q1 (d)", "### Q2 (a)", "### Q2 (b)", "### Q3 (a)",
            "### Q3 (b)", "### Q3 (c)", "## How this was produced")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# the last outputs of each study that the report reads: without them the real-report tests skip
PIPELINE_OUTPUTS = (paths.Q1_PREPROCESS_RESULTS / "summary.json", paths.Q1_TRAIN_RESULTS / paths.RESULT,
                    paths.Q1_METRICS, paths.Q1_SEARCH_RESULTS / "search.csv",
                    paths.Q1_SUMMARY_RESULTS / "sweep.csv", paths.Q2_METRICS, paths.Q2_PREDICT_RESULTS / "top.csv",
                    paths.Q2_EMBEDDINGS_RESULTS / "nearest_words.csv", paths.Q3_METRICS,
                    paths.Q3_COMPARE_RESULTS / "comparison.csv", paths.Q1_BASELINE_RESULTS / "pca.json",
                    paths.Q2_BASELINE_RESULTS / "counts.json", paths.Q3_BASELINE_RESULTS / "summary_softmax.json")
RUNS = "Runs of this checkout"  # the heading of report.html's table of logs/
WALL_CLOCK = re.compile(r"seconds|\d s\b", re.IGNORECASE)


def declared_inputs() -> list[Path]:
    """The report stage's deps in dvc.yaml (files and folders), with ${data.<key>} filled in from params.yaml."""
    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["report"]["deps"]
    fill = {f"${{data.{key}}}": str(value) for key, value in PARAMS["data"].items()}
    return [Path(fill.get(dep, dep)) for dep in deps]


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    """REPORT.md / report.html written from the outputs in the checkout, and every file the report read.

    The stage runs in a temporary folder whose entries link to the checkout's (but REPORT.md, report.html and
    the staging folder), so it reads the real outputs and writes its own REPORT.md and report.html.
    """
    missing = [str(p) for p in PIPELINE_OUTPUTS if not (ROOT / p).is_file()]
    if missing:
        pytest.skip(f"pipeline outputs missing (run `dvc repro` first): {', '.join(missing[:5])}")
    out = tmp_path_factory.mktemp("report")
    for entry in ROOT.iterdir():
        if entry.name not in (str(paths.REPORT_MD), str(paths.REPORT_HTML), ".staging"):
            (out / entry.name).symlink_to(entry)
    read: list[Path] = []
    original = Sources.path

    def recording(self, relative):
        read.append(Path(relative))
        return original(self, relative)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sources, "path", recording)
        mp.chdir(out)
        write.main()
    return out / paths.REPORT_MD, (out / paths.REPORT_HTML).read_text(encoding="utf-8"), set(read)


def test_every_section_of_the_assignment_is_there(real_report):
    markdown = real_report[0].read_text(encoding="utf-8")
    positions = [markdown.find(h) for h in HEADINGS]
    assert all(p >= 0 for p in positions), [h for h, p in zip(HEADINGS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_every_linked_image_exists_and_the_html_embeds_them(real_report):
    md_path, page, _ = real_report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text(encoding="utf-8"))
    assert len(links) >= 20
    assert [link for link in links if not (md_path.parent / link).is_file()] == []
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) == len(links)
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"https?://", page)  # nothing to fetch: viewable offline


def test_the_report_reads_only_files_its_stage_declares(real_report):
    deps = declared_inputs()
    assert real_report[2], "the report read nothing through Sources"
    undeclared = [p for p in real_report[2] if not any(p == dep or dep in p.parents for dep in deps)]
    assert undeclared == []


def test_numbers_match_the_metrics_files(real_report):
    markdown = real_report[0].read_text(encoding="utf-8")
    q1, q2, q3 = (json.loads((ROOT / path).read_text(encoding="utf-8"))
                  for path in (paths.Q1_METRICS, paths.Q2_METRICS, paths.Q3_METRICS))
    assert f"({pct(q1['autoencoder']['heldout_r2'])} of the variance explained)" in markdown
    for name in PARAMS["q2"]["sizes"]:
        assert f"| {q2[name]['val_cross_entropy']:.4g} |" in markdown, name
    for name in PARAMS["q3"]["models"]:  # the mean over the seeds and its spread
        m = q3[name]
        assert f"Test accuracy {pct(m['test_accuracy'])} (std {points(m['test_accuracy_std'])}, " in markdown, name
    best = max(PARAMS["q3"]["models"], key=lambda m: q3[m]["test_accuracy"])
    assert f"The {best.upper()} has the highest mean test accuracy, {pct(q3[best]['test_accuracy'])}" in markdown


def test_only_report_html_shows_run_times(real_report):
    md_path, page, _ = real_report
    markdown = md_path.read_text(encoding="utf-8")
    assert not WALL_CLOCK.findall(markdown) and RUNS not in markdown
    logged = [log.stem for log in (ROOT / paths.LOGS).glob("*.json")]  # none in a fresh clone: logs/ is not tracked
    assert RUNS in page and [stage for stage in logged if f"<td>{stage}</td>" not in page] == []


# ------------------------------------------------------------------------------ synthetic inputs

CLASSES = ("downstairs", "jogging", "sitting")


SEEDS = [0, 1, 2]
MEDIAN = 1  # the median seed of every synthetic model


def spread_of(mean: float, std: float) -> dict[str, float]:
    """{mean, std, min, max} of the three per-seed values mean - std, mean, mean + std (their sample std is std)."""
    return {"mean": mean, "std": std, "min": mean - std, "max": mean + std}


def write_q3_outputs(root: Path, accuracy: dict[str, tuple[float, float]],
                     baseline: tuple[float, float] = (0.91, 0.01)) -> None:
    """Minimal outputs of q3_train, q3_baseline and q3_compare (at the paths of pipeline.common.paths) for these
    test accuracies ({model: (mean, std) over SEEDS})."""
    rows = []
    for i, (model, (mean, std)) in enumerate(accuracy.items()):
        results, plots = root / paths.Q3_TRAIN_RESULTS / model, root / paths.Q3_TRAIN_PLOTS / model
        (results / seed_folder(MEDIAN)).mkdir(parents=True)
        plots.mkdir(parents=True)
        per_seed = [{"seed": seed, "test_accuracy": mean + (seed - MEDIAN) * std, "val_accuracy": 0.9,
                     "val_cross_entropy": 0.2, "test_cross_entropy": 0.3, "best_epoch": 5 + i + seed,
                     "stopped_epoch": 9 + i + seed} for seed in SEEDS]
        summary = {"model": model, "seeds": SEEDS, "median_seed": MEDIAN, "test_accuracy": spread_of(mean, std),
                   "test_cross_entropy": spread_of(0.3, 0.0), "val_accuracy": spread_of(0.9, 0.0),
                   "val_cross_entropy": spread_of(0.2, 0.0), "per_seed": per_seed, "parameters": 1000 * (i + 1),
                   "recordings": 12, "val_windows": [40, 41, 39], "val_overlapping_train": 0}
        (results / paths.RESULT).write_text(json.dumps(summary), encoding="utf-8")
        median = {**per_seed[MEDIAN], "model": model, "stop_reason": "early stop", "train_accuracy": 0.99}
        (results / seed_folder(MEDIAN) / paths.RESULT).write_text(json.dumps(median), encoding="utf-8")
        rows.append({"model": model, "test_accuracy": mean, "test_accuracy_std": std, "test_accuracy_min": mean - std,
                     "test_accuracy_max": mean + std, "val_accuracy": 0.9, "val_cross_entropy": 0.2,
                     "test_cross_entropy": 0.3, "best_epochs": " ".join(str(r["best_epoch"]) for r in per_seed),
                     "parameters": summary["parameters"]})
        matrix = pd.DataFrame([[180, 20, 0], [0, 200, 0], [20 * i, 0, 200 - 20 * i]],  # 600 test windows
                              columns=[f"pred_{c}" for c in CLASSES])
        matrix.insert(0, "true", CLASSES)
        matrix.to_csv(results / seed_folder(MEDIAN) / "confusion_test.csv", index=False)
        for kind in ("curve", "confusion_train", "confusion_test"):
            (plots / f"{kind}.png").write_bytes(PNG)
    for folder in (paths.Q3_COMPARE_RESULTS, paths.Q3_COMPARE_PLOTS, paths.Q3_BASELINE_RESULTS):
        (root / folder).mkdir(parents=True, exist_ok=True)
    decays = (0.001, 0.01, 0.001)
    softmax = {"features": 36, "seeds": SEEDS, "test_accuracy": spread_of(*baseline),
               "per_seed": [{"seed": seed, "val_accuracy": {f"{decays[seed]:g}": 0.9}, "weight_decay": decays[seed],
                             "test_accuracy": baseline[0] + (seed - MEDIAN) * baseline[1]} for seed in SEEDS]}
    (root / paths.Q3_BASELINE_RESULTS / "summary_softmax.json").write_text(json.dumps(softmax), encoding="utf-8")
    pd.DataFrame(rows, columns=TABLE_COLUMNS).to_csv(root / paths.Q3_COMPARE_RESULTS / "comparison.csv", index=False)
    (root / paths.Q3_COMPARE_PLOTS / "comparison.png").write_bytes(PNG)


def q3_blocks(tmp_path: Path, accuracy: dict[str, tuple[float, float]]) -> list:
    write_q3_outputs(tmp_path, accuracy)
    blocks = q3_section(Sources(tmp_path), PARAMS)
    assert sum(isinstance(b, Figure) for b in blocks) == 3 * len(accuracy) + 1
    return blocks


def ranking_text(tmp_path: Path, accuracy: dict[str, tuple[float, float]]) -> str:
    return "\n".join(item for b in q3_blocks(tmp_path, accuracy) if isinstance(b, Bullets) for item in b.items)


def paragraphs(blocks: list) -> list[str]:
    return [b.text for b in blocks if isinstance(b, Paragraph)]


@pytest.mark.parametrize(("accuracy", "expected"), [
    ({"rnn": (0.90, 0.01), "lstm": (0.95, 0.01), "gru": (0.972, 0.01)},
     "The GRU has the highest mean test accuracy, 97.2 %: 2.2 points above the LSTM (95.0 %; ± 2.7 points: a tie), "
     "7.2 points above the RNN (90.0 %; ± 3.2 points). Within the noise of seeds and test set, the GRU is tied "
     "with the LSTM."),
    ({"rnn": (0.90, 0.01), "lstm": (0.98, 0.01), "gru": (0.972, 0.01)},
     "The LSTM has the highest mean test accuracy, 98.0 %: 0.8 points above the GRU (97.2 %; ± 2.4 points: a tie), "
     "8.0 points above the RNN (90.0 %; ± 3.1 points). Within the noise of seeds and test set, the LSTM is tied "
     "with the GRU."),
    ({"rnn": (0.99, 0.01), "lstm": (0.94, 0.01), "gru": (0.972, 0.01)},
     "The RNN has the highest mean test accuracy, 99.0 %: 1.8 points above the GRU (97.2 %; ± 2.2 points: a tie), "
     "5.0 points above the LSTM (94.0 %; ± 2.6 points). Within the noise of seeds and test set, the RNN is tied "
     "with the GRU."),
    # the same means, but the RNN's seeds spread widely: its lead over the LSTM is no longer beyond the noise
    ({"rnn": (0.99, 0.05), "lstm": (0.94, 0.01), "gru": (0.972, 0.01)},
     "The RNN has the highest mean test accuracy, 99.0 %: 1.8 points above the GRU (97.2 %; ± 6.0 points: a tie), "
     "5.0 points above the LSTM (94.0 %; ± 6.1 points: a tie). Within the noise of seeds and test set, the RNN is tied "
     "with the GRU and the LSTM."),
])
def test_the_comparison_names_the_best_mean_and_the_ties(tmp_path, accuracy, expected):
    assert expected in ranking_text(tmp_path, accuracy)


def test_the_later_models_are_compared_with_the_earlier_ones(tmp_path):
    blocks = q3_blocks(tmp_path, {"rnn": (0.90, 0.01), "lstm": (0.95, 0.01), "gru": (0.93, 0.01)})
    text = "\n".join(item for b in blocks if isinstance(b, Bullets) for item in b.items)
    assert "Mean test accuracy 95.0 %: 5.0 points above the RNN (90.0 %; ± 3.4 points)." in text
    assert ("Mean test accuracy 93.0 %: 3.0 points above the RNN (90.0 %; ± 3.5 points: a tie), 2.0 points below "
            "the LSTM (95.0 %; ± 3.1 points: a tie).") in text
    assert ("Baseline (`q3_baseline`): softmax regression on 36 summary statistics of a window reaches 91.0 % (std "
            "1.0 points, 90.0 % to 92.0 %) on the test set over the same 3 validation splits (weight decay chosen on "
            "validation: 0.001, 0.01, 0.001); the recurrent models above it beyond the noise are what the sequence "
            "adds: LSTM.") in text
    assert "Parameters: RNN 1000, LSTM 2000, GRU 3000; kept epochs per seed: RNN 5 6 7, LSTM 6 7 8, GRU 7 8 9." in text
    assert not WALL_CLOCK.findall(text)
    texts = paragraphs(blocks)
    assert ("Gating helped only partly here: LSTM beat the vanilla RNN (90.0 %) beyond the noise of seeds and test "
            "set.") in texts  # the GRU's 3.0 points are a tie, not a win
    assert any(t.startswith("Trained with 3 seeds (0, 1, 2); ") and "Test accuracy 93.0 % (std 1.0 points, 92.0 % "
               "to 94.0 %)" in t for t in texts), texts
    # the median seed's own result: the GRU's seed 1 stopped at epoch 9 + 2 + 1 and kept epoch 5 + 2 + 1
    assert any(t.startswith("For seed 1, the median validation cross-entropy of the 3 seeds, training stopped after "
                            "epoch 12 — "
                            "early stop. The parameters of epoch 8 are kept") for t in texts), texts
    assert any("(40, 41, 39 per seed)" in t for t in texts), texts


def test_gated_models_beyond_the_noise_get_the_gating_explanation(tmp_path):
    blocks = q3_blocks(tmp_path, {"rnn": (0.90, 0.01), "lstm": (0.95, 0.01), "gru": (0.972, 0.01)})
    assert any(t.startswith("Both gated models beat the vanilla RNN beyond the noise.") for t in paragraphs(blocks))


def test_a_difference_adds_the_seed_spread_to_the_test_set_noise():
    a, b = {"mean": 0.95, "std": 0.02, "seeds": 4}, {"mean": 0.90, "std": 0.01, "seeds": 4}
    diff, width, tie = difference(a, b, 600)
    by_hand = 1.96 * math.sqrt(0.02**2 / 4 + 0.95 * 0.05 / 600 + 0.01**2 / 4 + 0.9 * 0.1 / 600)
    assert diff == pytest.approx(0.05) and width == pytest.approx(by_hand) and not tie
    assert difference(b, a, 600) == (pytest.approx(-0.05), pytest.approx(by_hand), False)
    assert difference(a, b, 600)[1] < difference({**a, "seeds": 2}, b, 600)[1]  # fewer seeds: a wider interval
    # with many seeds the interval shrinks below one seed's std: a difference smaller than that std is still a tie
    many = {"mean": 0.95, "std": 0.05, "seeds": 1000}, {"mean": 0.91, "std": 0.0, "seeds": 1000}
    assert difference(*many, 10**6)[1] < 0.04 < 0.05 and difference(*many, 10**6)[2]


def test_the_q2_paragraph_names_each_networks_weight_decay_or_none():
    results = {"a": {"dim": 32, "hidden": 256}, "b": {"dim": 8, "hidden": 64}}
    assert weight_decay({"a": {"weight_decay": 0}, "b": {"weight_decay": 0.0}}, results) == "no weight decay"
    assert weight_decay({"a": {"weight_decay": 1e-5}, "b": {"weight_decay": 0}}, results) == (
        "L2 weight decay of the matrices R, W1, W2 1e-05 for (D, P) = (32, 256), 0 for (D, P) = (8, 64)")


def test_confusions_are_the_largest_off_diagonal_cells():
    matrix = pd.DataFrame({"true": list(CLASSES), "pred_downstairs": [7, 0, 1], "pred_jogging": [3, 10, 0],
                           "pred_sitting": [0, 0, 9]})
    assert confusions(matrix) == [("downstairs", "jogging", 3, 10), ("sitting", "downstairs", 1, 10)]
    assert confusions(matrix.assign(pred_jogging=[0, 10, 0], pred_downstairs=[10, 0, 1])) == [
        ("sitting", "downstairs", 1, 10)]


def test_trend_sentences_follow_the_numbers():
    assert change(1.0, 2.0) == "rises" and change(2.0, 1.0) == "falls" and change(1.0, 1.01) == "stays about the same"
    assert trend([0.1, 0.5, 0.3], ["a", "b", "c"], "The score") == "The score rises from 0.1 at a to 0.3 at c"


def test_sources_take_text_and_path_objects(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results/r.json").write_text('{"a": 1}')
    src = Sources(tmp_path)
    assert src.path("results/r.json") == src.path(Path("results") / "r.json") == tmp_path / "results/r.json"
    assert src.json(Path("results/r.json")) == {"a": 1}
    with pytest.raises(UserError, match=r"results/nope\.csv: missing \(run `dvc repro` to produce it\)"):
        src.csv(Path("results/nope.csv"))


def test_a_missing_output_is_one_error_line(project, monkeypatch, capsys):
    code, lines = project.run(write, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2
    assert lines == [f"error: {paths.Q1_PREPROCESS_RESULTS / 'summary.json'}: missing (run `dvc repro` to produce it)"]
    assert not (project.root / paths.REPORT_MD).exists() and not (project.root / paths.REPORT_HTML).exists()


BLOCKS = [Heading(1, "Report"), Paragraph("Test accuracy 97.2 %."), Table(pd.DataFrame({"model": ["gru"]}))]


def test_report_html_is_report_md_plus_the_runs_read_from_logs(project, monkeypatch, capsys):
    monkeypatch.setattr(write, "build", lambda src, params: BLOCKS)  # the blocks both files are made of
    log_training("q2_train@d4_p8", 12.344, {0: (12.0, [{"seconds": 6.1}, {"seconds": 5.9}])})  # as q2_train does
    code, lines = project.run(write, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    markdown = (project.root / paths.REPORT_MD).read_text(encoding="utf-8")
    page = (project.root / paths.REPORT_HTML).read_text(encoding="utf-8")
    assert markdown == "# Report\n\nTest accuracy 97.2 %.\n\n| model |\n|---|\n| gru |\n"
    assert "<h1>Report</h1>" in page and "<p>Test accuracy 97.2 %.</p>" in page and "<td>gru</td>" in page
    assert RUNS in page and "<td>q2_train@d4_p8</td>" in page and "<td>12.34</td>" in page
    assert not (project.root / ".staging").exists() or not any((project.root / ".staging").iterdir())


def test_the_runs_table_shows_the_seconds_per_epoch_the_training_stages_log():
    blocks = write.runs_section({"q2_train@d4_p8": {"train_seconds": 12.34, "epoch_seconds": [6.1, 6.24]}})
    table = next(b for b in blocks if isinstance(b, Table)).frame
    assert table.loc[0, "training seconds"] == 12.34 and table.loc[0, "seconds per epoch"] == 6.17


def test_the_runs_table_averages_the_epochs_of_every_seed(project):
    # provenance.log_training as q2_train / q3_train call it: {seed: (seconds, history)}
    log_training("q3_train@gru", 9.876, {0: (3.0, [{"seconds": 1.0}, {"seconds": 2.0}]),
                                         1: (6.5, [{"seconds": 3.0}, {"seconds": 3.5}, {"seconds": 0.5}])})
    logs = read_logs()
    assert logs["q3_train@gru"]["seeds"]["1"] == {"train_seconds": 6.5, "epoch_seconds": [3.0, 3.5, 0.5]}
    table = next(b for b in write.runs_section(logs) if isinstance(b, Table)).frame
    assert table.loc[0, "stage"] == "q3_train@gru" and table.loc[0, "training seconds"] == 9.88
    assert table.loc[0, "seconds per epoch"] == 2.0  # (1 + 2 + 3 + 3.5 + 0.5) / 5 epochs


def test_without_logs_the_runs_section_says_so():
    assert write.runs_section({})[1] == Paragraph("No stage has logged a run in this checkout (logs/ is empty).")


def test_bad_params_stop_the_report_before_it_reads_anything(project, monkeypatch, capsys):
    project.set("q3.standardise", "maybe")
    code, lines = project.run(write, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 2 and lines == ["error: params.yaml q3.standardise = 'maybe': must be true or false"]


# ------------------------------------------------------------------------------ readers of the outputs

@pytest.mark.parametrize(("text", "problem"), [
    (None, "missing (run `dvc repro` to produce it)"),
    ('{"a": 1', "not valid JSON (Expecting"),
    (b"\xff\xfe{}", "not valid JSON ("),
    ("[1, 2]", "holds a JSON list, not an object"),
    ('{"a": 1}', "missing keys b, c; run `dvc repro` to rewrite it"),
])
def test_a_damaged_json_output_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "result.json"
    if text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as err:
        readers.read_json(path, ("a", "b", "c"))
    assert str(err.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(err.value) and "dvc repro" in str(err.value)


def test_json_and_csv_outputs_that_hold_their_keys_are_read(tmp_path):
    (tmp_path / "r.json").write_text('{"a": 1, "b": 2}')
    (tmp_path / "c.csv").write_text("epoch,loss\n1,0.5\n")
    assert readers.read_json(tmp_path / "r.json", ("a",)) == {"a": 1, "b": 2}
    assert readers.read_csv(tmp_path / "c.csv", ("epoch",))["loss"].tolist() == [0.5]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "not a readable CSV table (No columns to parse from file)"),
    ('epoch,loss\n1,"0.5\n', "not a readable CSV table ("),
    ("epoch,loss\n1,0.5\n", "missing columns val_error; run `dvc repro` to rewrite it"),
])
def test_a_damaged_csv_output_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "curve.csv"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        readers.read_csv(path, ("epoch", "val_error"))
    assert str(err.value).startswith(f"{path}: {problem}") and "\n" not in str(err.value)
