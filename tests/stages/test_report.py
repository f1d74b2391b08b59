"""The report stage: sections, figures, self-contained HTML, numbers that match the metrics, computed comparisons.

REPORT.md (git-tracked) holds no wall-clock time; report.html is the same blocks plus the "Runs of this checkout"
table read from logs/. The `real_report` tests write the report from the pipeline's outputs in the checkout and
skip until they exist (CI runs them after `dvc repro`); the others use small synthetic outputs.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.common import paths, readers
from pipeline.common.document import Bullets, Figure, Heading, Paragraph, Table
from pipeline.common.errors import UserError
from pipeline.common.provenance import write_log
from pipeline.report import write
from pipeline.report.q3 import confusions, q3_section
from pipeline.report.sources import Sources, change, pct, trend
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
    for name in PARAMS["q3"]["models"]:
        assert f"test accuracy {pct(q3[name]['test_accuracy'])} (cross-entropy" in markdown, name
    best = max(PARAMS["q3"]["models"], key=lambda m: q3[m]["test_accuracy"])
    assert f"The {best.upper()} scored highest on the test set, {pct(q3[best]['test_accuracy'])}" in markdown


def test_only_report_html_shows_run_times(real_report):
    md_path, page, _ = real_report
    markdown = md_path.read_text(encoding="utf-8")
    assert not WALL_CLOCK.findall(markdown) and RUNS not in markdown
    logged = [log.stem for log in (ROOT / paths.LOGS).glob("*.json")]  # none in a fresh clone: logs/ is not tracked
    assert RUNS in page and [stage for stage in logged if f"<td>{stage}</td>" not in page] == []


# ------------------------------------------------------------------------------ synthetic inputs

CLASSES = ("downstairs", "jogging", "sitting")


def write_q3_outputs(root: Path, accuracy: dict[str, float]) -> None:
    """Minimal outputs of q3_train and q3_compare (at the paths of pipeline.common.paths) for these accuracies."""
    metrics, rows = {}, []
    for i, (model, acc) in enumerate(accuracy.items()):
        results, plots = root / paths.Q3_TRAIN_RESULTS / model, root / paths.Q3_TRAIN_PLOTS / model
        results.mkdir(parents=True)
        plots.mkdir(parents=True)
        summary = {"best_epoch": 5 + i, "stopped_epoch": 9 + i, "stop_reason": "early stop", "test_accuracy": acc,
                   "test_cross_entropy": 0.3, "val_accuracy": acc, "val_cross_entropy": 0.2, "train_accuracy": 0.99,
                   "parameters": 1000 * (i + 1), "recordings": 12, "val_windows": 40, "val_overlapping_train": 0}
        (results / paths.RESULT).write_text(json.dumps(summary), encoding="utf-8")
        metrics[model] = {k: summary[k] for k in ("test_accuracy", "val_accuracy", "test_cross_entropy")}
        rows.append({"model": model, **{k: summary[k] for k in ("test_accuracy", "val_accuracy", "test_cross_entropy",
                                                                "best_epoch", "stopped_epoch", "parameters")}})
        matrix = pd.DataFrame([[180, 20, 0], [0, 200, 0], [20 * i, 0, 200 - 20 * i]],  # 600 test windows
                              columns=[f"pred_{c}" for c in CLASSES])
        matrix.insert(0, "true", CLASSES)
        matrix.to_csv(results / "confusion_test.csv", index=False)
        for kind in ("curve", "confusion_train", "confusion_test"):
            (plots / f"{kind}.png").write_bytes(PNG)
    for folder in (paths.METRICS, paths.Q3_COMPARE_RESULTS, paths.Q3_COMPARE_PLOTS, paths.Q3_BASELINE_RESULTS):
        (root / folder).mkdir(parents=True, exist_ok=True)
    baseline = {"test_accuracy": 0.92, "weight_decay": 0.001, "features": 36, "val_accuracy": {"0.001": 0.9}}
    (root / paths.Q3_BASELINE_RESULTS / "summary_softmax.json").write_text(json.dumps(baseline), encoding="utf-8")
    (root / paths.Q3_METRICS).write_text(json.dumps(metrics), encoding="utf-8")
    pd.DataFrame(rows).to_csv(root / paths.Q3_COMPARE_RESULTS / "comparison.csv", index=False)
    (root / paths.Q3_COMPARE_PLOTS / "comparison.png").write_bytes(PNG)


def ranking_text(tmp_path: Path, accuracy: dict[str, float]) -> str:
    write_q3_outputs(tmp_path, accuracy)
    blocks = q3_section(Sources(tmp_path), PARAMS)
    assert sum(isinstance(b, Figure) for b in blocks) == 3 * len(accuracy) + 1
    return "\n".join(item for b in blocks if isinstance(b, Bullets) for item in b.items)


@pytest.mark.parametrize(("accuracy", "expected"), [
    ({"rnn": 0.90, "lstm": 0.95, "gru": 0.972}, "The GRU scored highest on the test set, 97.2 %: 2.2 points above the "
                                                "LSTM (± 2.2 points), 7.2 points above the RNN (± 2.7 points)."),
    ({"rnn": 0.90, "lstm": 0.98, "gru": 0.972}, "The LSTM scored highest on the test set, 98.0 %: 0.8 points above "
                                                "the GRU (± 1.7 points: a tie), 8.0 points above the RNN (± 2.6 "
                                                "points)."),
    ({"rnn": 0.99, "lstm": 0.95, "gru": 0.972}, "The RNN scored highest on the test set, 99.0 %: 1.8 points above the "
                                                "GRU (± 1.5 points), 4.0 points above the LSTM (± 1.9 points)."),
])
def test_the_comparison_names_the_best_model_from_the_metrics(tmp_path, accuracy, expected):
    assert expected in ranking_text(tmp_path, accuracy)


def test_the_later_models_are_compared_with_the_earlier_ones(tmp_path):
    text = ranking_text(tmp_path, {"rnn": 0.90, "lstm": 0.95, "gru": 0.93})
    assert "Test accuracy 95.0 % ± 1.7 points (95 %, 600 windows): 5.0 points above the RNN (90.0 %; ± 3.0 points)." \
        in text
    assert ("Test accuracy 93.0 % ± 2.0 points (95 %, 600 windows): 3.0 points above the RNN (90.0 %; ± 3.2 points: "
            "a tie), 2.0 points below the LSTM (95.0 %; ± 2.7 points: a tie).") in text
    assert ("Baseline (`q3_baseline`): softmax regression on 36 summary statistics of a window reaches 92.0 % on "
            "the test set (weight decay 0.001, chosen on validation); the recurrent models above it by more than the "
            "interval are what the sequence adds: LSTM.") in text
    assert "Parameters: RNN 1000, LSTM 2000, GRU 3000; kept epochs: RNN 5, LSTM 6, GRU 7." in text
    assert not WALL_CLOCK.findall(text)


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
    write_log("q2_train@d4_p8", train_seconds=12.34, epoch_seconds=[6.1, 6.24])  # as q2_train writes it
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
