"""Stage report: REPORT.md and a self-contained report.html answering every part of the assignment.

Both are outputs of the stage, tracked like every other: the same blocks, report.html with its figures embedded,
and nothing in either that differs from run to run. What does (each stage's last run times, threads, BLAS) goes to
logs/runs.html, a page of its own beside the untracked logs it is read from.

Every number is read from the pipeline's outputs (metrics/, results/, plots/ and params.yaml), and every
comparative sentence is computed from them, so the report follows any change made with
`dvc exp run -S ...`. The sections live in q1.py, q2.py and q3.py beside this file.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from pipeline.common import io, paths
from pipeline.common.config import Data, load, read_tree, stage_help
from pipeline.common.document import Block, Bullets, Figure, Heading, Paragraph, Table, to_html, to_markdown
from pipeline.common.errors import make_app, run
from pipeline.common.inputs import sha256
from pipeline.common.provenance import flatten, read_logs, versions
from pipeline.common.staging import outputs
from pipeline.q1.params import Q1
from pipeline.q2.params import Q2
from pipeline.q3.params import Q3
from pipeline.report.q1 import q1_section
from pipeline.report.q2 import q2_section
from pipeline.report.q3 import q3_section
from pipeline.report.sources import Sources

PARAMS = ("data", "q1", "q2", "q3")
SCHEMA = {"data": Data, "q1": Q1, "q2": Q2, "q3": Q3}
TITLE = "EEE 443/543 mini project: sparse autoencoder, trigram language model, activity recognition"
RUNS_TITLE = "Runs of this checkout (times, threads, BLAS)"

HELP = stage_help(__doc__, SCHEMA, PARAMS)
app = make_app(HELP)


def runs_section(logs: dict[str, dict]) -> list[Block]:
    """logs/runs.html: what each stage's last run on this machine measured and ran on (logs/, not tracked).

    Wall-clock times differ from run to run, so they stay out of REPORT.md, report.html and every tracked file.
    """
    rows = []
    for stage, log in logs.items():
        env = log.get("environment", {})
        libraries = "; ".join(f"{t.get('internal_api')} {t.get('version')} {t.get('architecture') or ''}, "
                              f"{t.get('num_threads')} thread(s)" for t in env.get("threads", []))
        # per seed since the trainings run once per seed (provenance.log_training); top level in older logs
        epochs = [e for run in (log.get("seeds") or {}).values() for e in run.get("epoch_seconds") or []] \
            or log.get("epoch_seconds") or []
        rows.append({"stage": stage, "training seconds": log.get("train_seconds", ""),
                     "seconds per epoch": round(sum(epochs) / len(epochs), 3) if epochs else "",
                     "BLAS / OpenMP": libraries,
                     "python": env.get("versions", {}).get("python", ""),
                     "numpy": env.get("versions", {}).get("numpy", "")})
    intro = ("Read from logs/<stage>.json, which each stage writes after its outputs (not tracked by git or DVC: "
             "the times differ from run to run); the thread counts are the ones the stage set in code.")
    return [Heading(1, RUNS_TITLE),
            Paragraph(intro if rows else "No stage has logged a run in this checkout (logs/ is empty)."),
            *([Table(pd.DataFrame(rows))] if rows else [])]


def data_files(src: Sources, params: dict) -> pd.DataFrame:
    """Every input data file (params.yaml data.*) with its size and sha256."""
    files = [(f"data.{key}", str(value)) for key, value in params["data"].items()]
    return pd.DataFrame([{"file": path, "role": role, "bytes": src.path(path).stat().st_size,
                          "sha256": sha256(src.path(path))} for role, path in files])


def provenance_section(src: Sources, params: dict) -> list[Block]:
    """Parameters, data checksums, software versions and seeds."""
    flat = {key: str(value) for key, value in flatten(params).items()}
    seeds = {key: value for key, value in flat.items() if key.rsplit(".", 1)[-1] in ("seed", "seeds")}
    return [
        Heading(2, "How this was produced"),
        Paragraph("`dvc repro` runs one script per stage (`python -m pipeline.<study>.<stage>`, see dvc.yaml); "
                  "this report is its last stage, `python -m pipeline.report.write`, and reads only files the stages "
                  "wrote."),
        Heading(3, "Data"),
        Table(data_files(src, params)),
        Heading(3, "Seeds"),
        Bullets(tuple(f"`{key}` = {value}" for key, value in seeds.items())),
        Heading(3, "Software"),
        Paragraph(f"Each stage's last run time, thread counts and BLAS on this machine: `{paths.RUNS_HTML}` (not "
                  "tracked: they differ from run to run)."),
        Table(pd.DataFrame(list(versions().items()), columns=["package", "version"])),
        Heading(3, "Parameters (params.yaml, flattened)"),
        Table(pd.DataFrame(list(flat.items()), columns=["parameter", "value"])),
    ]


def contents(blocks: list[Block]) -> Bullets:
    """One item per section heading, its subsection headings after a colon."""
    items: list[list[str]] = []
    for block in blocks:
        if isinstance(block, Heading) and block.level == 2:
            items.append([block.text])
        elif isinstance(block, Heading) and block.level == 3 and items:
            items[-1].append(block.text)
    return Bullets(tuple(head + (": " + "; ".join(subs) if subs else "") for head, *subs in items))


def build(src: Sources, params: dict) -> list[Block]:
    """The whole report: title, introduction with contents, Q1-Q3, provenance."""
    body = [*q1_section(src, params), *q2_section(src, params), *q3_section(src, params),
            *provenance_section(src, params)]
    intro = Paragraph("Written by the pipeline's `report` stage from its own outputs: every number, table and "
                      "comparison below is read or computed from `metrics/`, `results/`, `plots/` and "
                      "`params.yaml` of this run, so it follows any `dvc exp run -S ...` change.")
    return [Heading(1, TITLE), intro, Paragraph("Contents:"), contents(body), *body]


def relative_figures(blocks: list[Block], root: Path, folder: Path) -> list[Block]:
    """Figure paths (relative to `root`) rewritten relative to `folder`, where the Markdown file goes."""
    return [replace(b, path=Path(os.path.relpath(root / b.path, folder))) if isinstance(b, Figure) else b
            for b in blocks]


@app.command(help=HELP)
def main() -> None:
    """Write REPORT.md and report.html from the pipeline's outputs, and logs/runs.html from the logs."""
    tree = read_tree()
    load(SCHEMA, PARAMS, tree=tree)
    root = Path(".")
    blocks = build(Sources(root), tree)
    markdown, html = paths.REPORT_MD, paths.REPORT_HTML
    with outputs(markdown, html):
        io.write_text(markdown, to_markdown(relative_figures(blocks, root, markdown.parent)))
        io.write_text(html, to_html(blocks, TITLE, root=root))
    io.write_text(paths.RUNS_HTML, to_html(runs_section(read_logs()), RUNS_TITLE, root=root))
    print(f"report: wrote {markdown} and {html} ({sum(isinstance(b, Figure) for b in blocks)} figures); "
          f"run times in {paths.RUNS_HTML}")


if __name__ == "__main__":
    run(app)
