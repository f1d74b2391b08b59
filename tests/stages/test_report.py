"""The report stage: sections, figures, self-contained HTML, numbers that match the metrics, computed comparisons.

REPORT.md and report.html (both outputs of the stage, tracked) are the same blocks and hold no wall-clock time;
the "Runs of this checkout" table read from logs/ is a page of its own, logs/runs.html (not tracked). The
`real_report` tests write the report from the pipeline's outputs in the checkout and skip until they exist (CI
runs them after `dvc repro`); the others use small synthetic outputs.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from pipeline.common import paths, readers
from pipeline.common.document import Bullets, Figure, Heading, Paragraph, Table
from pipeline.common.errors import UserError
from pipeline.common.provenance import log_training, read_logs
from pipeline.common.seeds import seed_folder
from pipeline.q3.compare import BASELINE, TABLE_COLUMNS, family, pairs
from pipeline.report import write
from pipeline.report.q2 import weight_decay
from pipeline.report.q3 import as_percent, cell_groups, confusions, q3_section
from pipeline.report.sources import Sources, change, pct, points, trend
from tests.conftest import PLAIN, Q3_PER_CELL, ROOT
from tests.conftest import q3_entry as entry

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
HEADINGS = ("### Q1 (a)", "### Q1 (b)", "### Q1 (c)", "### Q1 (d)", "### Q2 (a)", "### Q2 (b)",
            "### Q3 (a) vanilla (tanh) RNN: ", "### Q3 (b) LSTM: ", "### Q3 (c) GRU: ", "### Q3 comparison",
            "## How this was produced")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
# the last outputs of each study that the report reads: without them the real-report tests skip
PIPELINE_OUTPUTS = (paths.Q1_PREPROCESS_RESULTS / "summary.json", paths.Q1_TRAIN_RESULTS / paths.RESULT,
                    paths.Q1_METRICS, paths.Q1_SEARCH_RESULTS / "search.csv",
                    paths.Q1_SUMMARY_RESULTS / "sweep.csv", paths.Q2_METRICS, paths.Q2_PREDICT_RESULTS / "top.csv",
                    paths.Q2_EMBEDDINGS_RESULTS / "nearest_words.csv", paths.Q3_METRICS,
                    paths.Q3_COMPARE_RESULTS / "comparison.csv", paths.Q3_COMPARE_RESULTS / "differences.csv",
                    paths.Q1_BASELINE_RESULTS / "pca.json",
                    paths.Q2_BASELINE_RESULTS / "counts.json", paths.Q3_BASELINE_RESULTS / "summary_softmax.json")
RUNS = "Runs of this checkout"  # the heading of logs/runs.html, the table of logs/
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
    for item in ROOT.iterdir():
        if item.name not in (str(paths.REPORT_MD), str(paths.REPORT_HTML), ".staging"):
            (out / item.name).symlink_to(item)
    read: list[Path] = []
    original = Sources.path

    def recording(self, relative):
        read.append(Path(relative))
        return original(self, relative)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sources, "path", recording)
        mp.chdir(out)
        write.main()
    return out / paths.REPORT_MD, (out / paths.REPORT_HTML).read_text(encoding="utf-8"), set(read), \
        (out / paths.RUNS_HTML).read_text(encoding="utf-8")


def test_every_section_of_the_assignment_is_there(real_report):
    markdown = real_report[0].read_text(encoding="utf-8")
    positions = [markdown.find(h) for h in HEADINGS]
    assert all(p >= 0 for p in positions), [h for h, p in zip(HEADINGS, positions, strict=True) if p < 0]
    assert positions == sorted(positions)


def test_every_linked_image_exists_and_the_html_embeds_them(real_report):
    md_path, page, *_ = real_report
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
    for name in PARAMS["q3"]["models"]:  # the mean over the seeds, its spread and its interval
        m = q3[name]
        assert f"Test accuracy {pct(m['test_accuracy'])} (std {points(m['test_accuracy_std'])}, " in markdown, name
        assert (f"95 % interval {pct(m['test_accuracy_low'])} to {pct(m['test_accuracy_high'])}; "
                in markdown), name
    diffs = pd.read_csv(ROOT / paths.Q3_COMPARE_RESULTS / "differences.csv")
    for group in cell_groups(diffs):  # the best of each recipe's cells is the one with the highest mean
        best = max(group, key=lambda m: q3[m]["test_accuracy"])
        assert (f"`{best}` is best beyond the noise" in markdown
                or f"`{best}` has the highest mean, but it is tied with" in markdown), best


def test_run_times_are_only_on_the_untracked_runs_page(real_report):
    md_path, page, _, runs = real_report
    markdown = md_path.read_text(encoding="utf-8")
    assert not WALL_CLOCK.findall(markdown) and RUNS not in markdown
    assert not WALL_CLOCK.findall(re.sub(r'src="data:[^"]*"', "", page)) and RUNS not in page
    logged = [log.stem for log in (ROOT / paths.LOGS).glob("*.json")]  # none in a fresh clone: logs/ is not tracked
    assert RUNS in runs and [stage for stage in logged if f"<td>{stage}</td>" not in runs] == []


def test_report_html_is_the_committed_one(real_report):
    """The stage's report.html is byte for byte the tracked one: nothing in it depends on the run."""
    committed = ROOT / paths.REPORT_HTML
    if not committed.is_file():
        pytest.skip("no report.html in the checkout (run `dvc repro` first)")
    assert real_report[1] == committed.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ synthetic inputs

CLASSES = ("downstairs", "jogging", "sitting")


SEEDS = [0, 1, 2]
MEDIAN = 1  # the median seed of every synthetic model
TEST_WINDOWS = 600
HALF_WIDTH = 0.03  # of every synthetic difference unless a test gives its own
DOF = 4  # of every synthetic difference's t-test

THREE = {cell: entry(cell) for cell in Q3_PER_CELL}  # one recipe (augmented), three cells
SIX = {**THREE, **{f"{cell}_noaug": entry(cell, PLAIN) for cell in Q3_PER_CELL}}  # and the same without augmentation


def with_models(models: dict[str, dict]) -> dict:
    """The repository's params.yaml with these q3.models."""
    params = copy.deepcopy(PARAMS)
    params["q3"]["models"] = copy.deepcopy(models)
    return params


def spread_of(mean: float, std: float) -> dict[str, float]:
    """{mean, std, min, max} of the three per-seed values mean - std, mean, mean + std (their sample std is std)."""
    return {"mean": mean, "std": std, "min": mean - std, "max": mean + std}


def difference_row(question: str, aspect: str, a: str, b: str, diff: float, half_width: float) -> dict:
    """A row of differences.csv as pipeline.q3.intervals.difference makes it: a t-test with DOF degrees of freedom
    whose 95 % half-width is `half_width`."""
    se = half_width / stats.t.ppf(0.975, DOF)
    p_value = float(2 * stats.t.sf(abs(diff) / se, DOF))
    return {"question": question, "aspect": aspect, "a": a, "b": b, "difference": diff, "half_width": half_width,
            "dof": DOF, "p_value": p_value}


def write_q3_outputs(root: Path, models: dict[str, dict], accuracy: dict[str, tuple[float, float]],
                     widths: dict[tuple[str, str], float] | None = None, baseline: tuple[float, float] = (0.91, 0.01),
                     stale: tuple[str, ...] = ()) -> None:
    """Minimal outputs of q3_train, q3_baseline and q3_compare (at the paths of pipeline.common.paths) for these
    q3.models and test accuracies ({model: (mean, std) over SEEDS}); the differences of q3_compare's pairs have
    half-width widths[(a, b)] (default HALF_WIDTH). `stale`: entries of accuracy that q3_train left behind but
    params no longer holds (only their q3_train outputs exist)."""
    rows = []
    for i, (model, (mean, std)) in enumerate(accuracy.items()):
        results, plots = root / paths.Q3_TRAIN_RESULTS / model, root / paths.Q3_TRAIN_PLOTS / model
        plots.mkdir(parents=True)
        per_seed = [{"seed": seed, "test_accuracy": mean + (seed - MEDIAN) * std, "val_accuracy": 0.9,
                     "val_cross_entropy": 0.2, "test_cross_entropy": 0.3, "best_epoch": 5 + i + seed,
                     "stopped_epoch": 9 + i + seed} for seed in SEEDS]
        summary = {"model": model, "seeds": SEEDS, "median_seed": MEDIAN, "test_accuracy": spread_of(mean, std),
                   "test_cross_entropy": spread_of(0.3, 0.0), "val_accuracy": spread_of(0.9, 0.0),
                   "val_cross_entropy": spread_of(0.2, 0.0), "per_seed": per_seed, "parameters": 1000 * (i + 1),
                   "trials": 12, "val_windows": [40, 41, 39], "val_overlapping_train": 0}
        for seed, row in zip(SEEDS, per_seed, strict=True):
            (results / seed_folder(seed)).mkdir(parents=True)
            true = np.repeat(np.arange(len(CLASSES)), TEST_WINDOWS // len(CLASSES))
            right = np.arange(TEST_WINDOWS) < round(row["test_accuracy"] * TEST_WINDOWS)
            pd.DataFrame({"trial": np.arange(TEST_WINDOWS) // 4, "fragment": np.arange(TEST_WINDOWS) // 2, "true": true,
                          "predicted": np.where(right, true, (true + 1) % len(CLASSES))}).to_csv(
                results / seed_folder(seed) / paths.TEST_PREDICTIONS, index=False)
        (results / paths.RESULT).write_text(json.dumps(summary), encoding="utf-8")
        median = {**per_seed[MEDIAN], "model": model, "stop_reason": "early stop", "train_accuracy": 0.99}
        (results / seed_folder(MEDIAN) / paths.RESULT).write_text(json.dumps(median), encoding="utf-8")
        if model not in stale:
            m = models[model]
            rows.append({"model": model, "cell": m["cell"], "layers": m["layers"],
                         "augmented": any(m[k] for k in ("rotation", "scale", "jitter")), "test_accuracy": mean,
                         "test_accuracy_std": std, "test_accuracy_low": mean - 0.02, "test_accuracy_high": mean + 0.02,
                         "test_accuracy_min": mean - std, "test_accuracy_max": mean + std, "val_accuracy": 0.9,
                         "val_cross_entropy": 0.2, "test_cross_entropy": 0.3,
                         "best_epochs": " ".join(str(r["best_epoch"]) for r in per_seed),
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
    interval = {"low": baseline[0] - HALF_WIDTH, "high": baseline[0] + HALF_WIDTH}
    (root / paths.Q3_COMPARE_RESULTS / "baseline_interval.json").write_text(json.dumps(interval), encoding="utf-8")
    pd.DataFrame(rows, columns=TABLE_COLUMNS).to_csv(root / paths.Q3_COMPARE_RESULTS / "comparison.csv", index=False)
    mean = {**{m: acc[0] for m, acc in accuracy.items()}, BASELINE: baseline[0]}
    compared = [*pairs(models), *(("baseline", "", m, BASELINE) for m in models)]
    family(pd.DataFrame([difference_row(q, aspect, a, b, mean[a] - mean[b], (widths or {}).get((a, b), HALF_WIDTH))
                         for q, aspect, a, b in compared])).to_csv(root / paths.Q3_COMPARE_RESULTS / "differences.csv",
                                                                    index=False)
    counts = {"units": TEST_WINDOWS // 4, "single_window_units": 0, "windows_per_unit_median": 4.0,
              "windows_per_unit_max": 4}
    (root / paths.Q3_COMPARE_RESULTS / "units.json").write_text(json.dumps(
        {"test": {"windows": TEST_WINDOWS, "trials": counts, "fragments": {**counts, "units": TEST_WINDOWS // 2}},
         "train_trials": 12}), encoding="utf-8")
    (root / paths.Q3_COMPARE_PLOTS / "comparison.png").write_bytes(PNG)


def q3_blocks(tmp_path: Path, models: dict[str, dict], accuracy: dict[str, tuple[float, float]], **options) -> list:
    write_q3_outputs(tmp_path, models, accuracy, **options)
    blocks = q3_section(Sources(tmp_path), with_models(models))
    assert sum(isinstance(b, Figure) for b in blocks) == 3 * len(models) + 1
    return blocks


def bullets(blocks: list) -> list[str]:
    return [item for b in blocks if isinstance(b, Bullets) for item in b.items]


def paragraphs(blocks: list) -> list[str]:
    return [b.text for b in blocks if isinstance(b, Paragraph)]


def headings(blocks: list) -> list[str]:
    return [b.text for b in blocks if isinstance(b, Heading)]


def everything(blocks: list) -> str:
    """Every text of the section: headings, paragraphs, bullets, captions and tables."""
    texts = [*headings(blocks), *paragraphs(blocks), *bullets(blocks)]
    texts += [b.caption for b in blocks if isinstance(b, Figure)]
    texts += [b.frame.to_string() for b in blocks if isinstance(b, Table)]
    return "\n".join(texts)


@pytest.mark.parametrize(("accuracy", "widths", "expected"), [
    # the best beats one cell beyond the noise and is tied with the other
    ({"rnn": (0.90, 0.01), "lstm": (0.95, 0.01), "gru": (0.972, 0.01)}, {},
     "Cells at one recipe (with augmentation: `rnn`, `lstm`, `gru`): `gru` has the highest mean, but it is tied with "
     "`lstm` (and beats `rnn`). `gru` 97.2 % vs `lstm` 95.0 %: +2.2 points ± 3.0 (p = 0.11, Holm-adjusted 0.22), a "
     "tie; `gru` 97.2 % vs `rnn` 90.0 %: +7.2 points ± 3.0 (p = 0.0026, Holm-adjusted 0.016)."),
    # every margin beyond the noise
    ({"rnn": (0.90, 0.01), "lstm": (0.91, 0.01), "gru": (0.972, 0.01)}, {},
     "Cells at one recipe (with augmentation: `rnn`, `lstm`, `gru`): `gru` is best beyond the noise. `gru` 97.2 % vs "
     "`lstm` 91.0 %: +6.2 points ± 3.0 (p = 0.0046, Holm-adjusted 0.023); `gru` 97.2 % vs `rnn` 90.0 %: +7.2 points "
     "± 3.0 (p = 0.0026, Holm-adjusted 0.016)."),
    # the vanilla RNN may be best: the ranking follows the numbers, not the cells
    ({"rnn": (0.99, 0.01), "lstm": (0.94, 0.01), "gru": (0.972, 0.01)}, {},
     "Cells at one recipe (with augmentation: `rnn`, `lstm`, `gru`): `rnn` has the highest mean, but it is tied with "
     "`gru` (and beats `lstm`). `rnn` 99.0 % vs `gru` 97.2 %: +1.8 points ± 3.0 (p = 0.17, Holm-adjusted 0.17), a "
     "tie; `rnn` 99.0 % vs `lstm` 94.0 %: +5.0 points ± 3.0 (p = 0.0098, Holm-adjusted 0.039)."),
    # the same means, but the RNN's seeds spread widely (wider intervals): its lead over the LSTM is a tie too
    ({"rnn": (0.99, 0.05), "lstm": (0.94, 0.01), "gru": (0.972, 0.01)},
     {("rnn", "lstm"): 0.061, ("rnn", "gru"): 0.06},
     "Cells at one recipe (with augmentation: `rnn`, `lstm`, `gru`): `rnn` has the highest mean, but it is tied with "
     "`gru` and `lstm`. `rnn` 99.0 % vs `gru` 97.2 %: +1.8 points ± 6.0 (p = 0.45, Holm-adjusted 0.45), a tie; `rnn` "
     "99.0 % vs `lstm` 94.0 %: +5.0 points ± 6.1 (p = 0.085, Holm-adjusted 0.17), a tie."),
])
def test_the_cells_at_one_recipe_name_the_best_mean_the_margins_and_the_ties(tmp_path, accuracy, widths, expected):
    assert expected in bullets(q3_blocks(tmp_path, THREE, accuracy, widths=widths))


def test_the_recipes_effect_on_each_cell_is_stated_with_its_margin_or_as_a_tie(tmp_path):
    accuracy = {"rnn": (0.93, 0.01), "lstm": (0.95, 0.01), "gru": (0.972, 0.01),
                "rnn_noaug": (0.85, 0.01), "lstm_noaug": (0.94, 0.01), "gru_noaug": (0.99, 0.01)}
    items = bullets(q3_blocks(tmp_path, SIX, accuracy))
    # the augmented entry minus the other, whichever comes first in params
    assert ("Augmentation (vanilla (tanh) RNN): helps; `rnn` 93.0 % vs `rnn_noaug` 85.0 %: +8.0 points ± 3.0 "
            "(p = 0.0018, Holm-adjusted 0.023).") in items
    assert ("Augmentation (LSTM): changes nothing beyond the noise; `lstm` 95.0 % vs `lstm_noaug` 94.0 %: +1.0 points "
            "± 3.0 (p = 0.41, Holm-adjusted 0.56), a tie.") in items
    assert not any(i.startswith("Augmentation (GRU): hurts") for i in items)  # a tie is never stated as hurting,
    assert ("Augmentation (GRU): changes nothing beyond the noise; `gru` 97.2 % vs `gru_noaug` 99.0 %: −1.8 points "
            "± 3.0 (p = 0.17, Holm-adjusted 0.56), a tie.") in items  # but called a tie, with its margin
    # the two recipes' cells are compared each at their own recipe, never across
    assert any(i.startswith("Cells at one recipe (with augmentation: `rnn`, `lstm`, `gru`): ") for i in items)
    assert any(i.startswith("Cells at one recipe (without augmentation: `rnn_noaug`, `lstm_noaug`, `gru_noaug`): ")
               for i in items)
    assert not any("`rnn` " in i and "_noaug` " in i and not i.startswith("Augmentation (vanilla") for i in items)


def test_a_real_harm_of_a_recipe_is_stated_as_one(tmp_path):
    accuracy = {"gru": (0.93, 0.01), "gru_noaug": (0.98, 0.01)}
    items = bullets(q3_blocks(tmp_path, {"gru": SIX["gru"], "gru_noaug": SIX["gru_noaug"]}, accuracy))
    assert ("Augmentation (GRU): hurts; `gru` 93.0 % vs `gru_noaug` 98.0 %: −5.0 points ± 3.0 (p = 0.0098, "
            "Holm-adjusted 0.02).") in items
    assert not any(i.startswith("Cells at one recipe") for i in items)  # one cell: nothing to rank


def test_the_entries_are_grouped_by_cell_and_described_from_their_settings(tmp_path):
    models = {**SIX, "gru2": entry("gru", layers=2), "my_lstm": entry("lstm", PLAIN, hidden=64)}
    accuracy = {m: (0.9 + i / 100, 0.01) for i, m in enumerate(models)}
    blocks = q3_blocks(tmp_path, models, accuracy)
    assert [h for h in headings(blocks) if h.startswith("Q3 (")] == [
        "Q3 (a) vanilla (tanh) RNN: `rnn`, `rnn_noaug`", "Q3 (b) LSTM: `lstm`, `lstm_noaug`, `my_lstm`",
        "Q3 (c) GRU: `gru`, `gru_noaug`, `gru2`"]
    assert [h for h in headings(blocks) if h.startswith("`")] == [
        "`rnn`: vanilla (tanh) RNN, 128 units", "`rnn_noaug`: vanilla (tanh) RNN, 128 units, no augmentation",
        "`lstm`: LSTM, 128 units", "`lstm_noaug`: LSTM, 128 units, no augmentation",
        "`my_lstm`: LSTM, 64 units, no augmentation",
        "`gru`: GRU, 128 units", "`gru_noaug`: GRU, 128 units, no augmentation", "`gru2`: GRU, 2 layers of 128 units"]
    items = bullets(blocks)
    assert any(i.startswith("The architecture (GRU): ") and "`gru` 92.0 % vs `gru2` 96.0 %" in i for i in items)
    assert any(i.startswith("The architecture (LSTM): ") and "`lstm_noaug` 94.0 % vs `my_lstm` 97.0 %" in i
               for i in items)


def test_the_later_models_are_described_with_their_seeds_interval_and_settings(tmp_path):
    blocks = q3_blocks(tmp_path, THREE, {"rnn": (0.90, 0.01), "lstm": (0.97, 0.01), "gru": (0.925, 0.01)})
    text = "\n".join(bullets(blocks))
    assert ("Baseline (`q3_baseline`): softmax regression on 36 summary statistics of a window reaches 91.0 % (std "
            "1.0 points, 90.0 % to 92.0 %) on the test set (95 % interval over the test trials 88.0 % to 94.0 %) "
            "over the same 3 validation splits (weight decay chosen on "
            "validation: 0.001, 0.01, 0.001); the entries above it beyond the noise are what the sequence adds: "
            "`lstm`.") in text  # the GRU's 1.5 points over it are within ± 3.0: not above it
    assert not WALL_CLOCK.findall(text)
    texts = paragraphs(blocks)
    assert ("At this recipe gating helped only partly: `lstm` beat the vanilla RNN (`rnn`) beyond the noise of seeds "
            "and test set.") in texts  # the GRU's 2.5 points are a tie (± 3.0), not a win
    assert any(t.startswith("Trained with 3 seeds (0, 1, 2); each seed draws its own validation split, "
                            "initialisation, mini-batch order and training-window augmentation (rotations up to 20°, "
                            "movement scaled by up to ± 20.0 %, jitter of std 0.05). ")
               and "Test accuracy 92.5 % (std 1.0 points, 91.5 % to 93.5 %), 95 % interval 90.5 % to 94.5 %; " in t
               for t in texts), texts
    assert any(t.startswith("GRU, 128 units (orthogonal recurrent initialisation), MLP head \"64\" then softmax; ")
               and "learning rate 0.1 (cosine schedule), gradients clipped at norm 1, at most 30 epochs, early "
               "stopping with patience 10" in t for t in texts), texts
    # the median seed's own result: the GRU's seed 1 stopped at epoch 9 + 2 + 1 and kept epoch 5 + 2 + 1
    assert any(t.startswith("For seed 1, the median validation cross-entropy of the 3 seeds, training stopped after "
                            "epoch 12 — "
                            "early stop. The parameters of epoch 8 are kept") for t in texts), texts
    assert any("(40, 41, 39 windows per seed; 0 share a sample with a training window)" in t
               and f"the {TEST_WINDOWS} test windows are {TEST_WINDOWS // 4} trials" in t
               and "This is trial level, not person level" in t and "It describes the people of the test file" in t
               for t in texts), texts
    assert any(t.startswith("A difference between two entries is judged by a t-test") and "The 6 comparisons of this "
               "section are one family: each p-value is Holm-adjusted over all of them" in t
               and "No second seed set is on record" in t for t in texts), texts


def test_gated_models_beyond_the_noise_get_the_gating_explanation(tmp_path):
    blocks = q3_blocks(tmp_path, SIX, {"rnn": (0.90, 0.01), "lstm": (0.97, 0.01), "gru": (0.972, 0.01),
                                       "rnn_noaug": (0.90, 0.01), "lstm_noaug": (0.92, 0.01),
                                       "gru_noaug": (0.97, 0.01)})
    texts = paragraphs(blocks)
    assert any(t.startswith("At this recipe every gated entry (`lstm`, `gru`) beats the vanilla RNN beyond the noise.")
               for t in texts), texts
    # without augmentation the LSTM's 2.0 points are a tie: gating is not credited for it
    assert ("At this recipe gating helped only partly: `gru_noaug` beat the vanilla RNN (`rnn_noaug`) beyond the noise "
            "of seeds and test set.") in texts


STALE = {"rnn": (0.90, 0.01), "lstm": (0.99, 0.01), "gru": (0.972, 0.01)}  # lstm: trained once, then dropped


def test_the_report_names_no_model_that_params_does_not_hold(tmp_path):
    models = {"rnn": THREE["rnn"], "gru": THREE["gru"]}
    blocks = q3_blocks(tmp_path, models, STALE, stale=("lstm",))
    text = everything(blocks)
    assert "lstm" not in text  # the stale entry's outputs are there, but params.yaml no longer holds it
    assert "`rnn`" in text and "`gru`" in text
    assert [h for h in headings(blocks) if h.startswith("Q3 (")] == ["Q3 (a) vanilla (tanh) RNN: `rnn`",
                                                                     "Q3 (c) GRU: `gru`"]
    assert ("Cells at one recipe (with augmentation: `rnn`, `gru`): `gru` is best beyond the noise. `gru` 97.2 % vs "
            "`rnn` 90.0 %: +7.2 points ± 3.0 (p = 0.0026, Holm-adjusted 0.0079).") in bullets(blocks)


def test_the_gating_explanation_names_only_the_gated_cells_compared(tmp_path):
    blocks = q3_blocks(tmp_path, {"rnn": THREE["rnn"], "gru": THREE["gru"]}, STALE, stale=("lstm",))
    [gating] = [t for t in paragraphs(blocks) if t.startswith("At this recipe")]
    assert gating.startswith("At this recipe every gated entry (`gru`) beats the vanilla RNN beyond the noise.")
    assert "LSTM" not in gating  # no entry of params is an LSTM: the explanation is about the GRU's gates only


def test_two_entries_of_one_cell_at_one_recipe_are_reported(tmp_path):
    # rnn_fast differs from rnn in its learning rate only: a recipe pair of the RNN, and a cell pair with the LSTM
    models = {"rnn": THREE["rnn"], "lstm": THREE["lstm"], "rnn_fast": entry("rnn", lr=0.05)}
    assert pairs(models) == [("cell", "", "rnn", "lstm"), ("recipe", "learning rate and epochs", "rnn", "rnn_fast"),
                             ("cell", "", "lstm", "rnn_fast")]
    items = bullets(q3_blocks(tmp_path, models, {"rnn": (0.95, 0.01), "lstm": (0.90, 0.01),
                                                 "rnn_fast": (0.93, 0.01)}))
    assert ("The learning rate and epochs (vanilla (tanh) RNN): changes nothing beyond the noise; `rnn` 95.0 % vs "
            "`rnn_fast` 93.0 %: +2.0 points ± 3.0 (p = 0.14, Holm-adjusted 0.41), a tie.") in items
    [cells] = [i for i in items if i.startswith("Cells at one recipe")]
    assert "`rnn` 95.0 % vs `lstm` 90.0 %" in cells and "`rnn` 95.0 % vs `rnn_fast` 93.0 %: +2.0 points" in cells


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


def test_report_html_is_report_md_and_the_runs_get_a_page_of_their_own(project, monkeypatch, capsys):
    monkeypatch.setattr(write, "build", lambda src, params: BLOCKS)  # the blocks both files are made of
    log_training("q2_train@d4_p8", 12.344, {0: (12.0, [{"seconds": 6.1}, {"seconds": 5.9}])})  # as q2_train does
    code, lines = project.run(write, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0, lines
    markdown = (project.root / paths.REPORT_MD).read_text(encoding="utf-8")
    page = (project.root / paths.REPORT_HTML).read_text(encoding="utf-8")
    assert markdown == "# Report\n\nTest accuracy 97.2 %.\n\n| model |\n|---|\n| gru |\n"
    assert "<h1>Report</h1>" in page and "<p>Test accuracy 97.2 %.</p>" in page and "<td>gru</td>" in page
    assert RUNS not in page and "12.34" not in page
    runs = (project.root / paths.RUNS_HTML).read_text(encoding="utf-8")
    assert RUNS in runs and "<td>q2_train@d4_p8</td>" in runs and "<td>12.34</td>" in runs
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
    ("", "empty; run `dvc repro` to rewrite it"),
    ('epoch,loss\n1,"0.5\n', "not a readable CSV table ("),
    ("epoch,loss\n1,0.5\n", "missing columns val_error; run `dvc repro` to rewrite it"),
])
def test_a_damaged_csv_output_is_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "curve.csv"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        readers.read_csv(path, ("epoch", "val_error"))
    assert str(err.value).startswith(f"{path}: {problem}") and "\n" not in str(err.value)


def test_the_comparison_table_shows_accuracies_in_percent_and_their_spread_in_points():
    table = pd.DataFrame({"model": ["gru"], "test_accuracy": [0.9716], "test_accuracy_std": [0.0123],
                          "val_cross_entropy": [0.0412]})
    shown = as_percent(table)
    assert shown.iloc[0].tolist() == ["gru", "97.2 %", "1.2 points", 0.0412]
