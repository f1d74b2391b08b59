"""The pull-request comment of the hosted CI: params, metrics (with the tolerance verdict) and plots against a base.

Run after the pipeline, in the workspace it produced; prints Markdown on stdout:

    python -m tools.pr_comment --base origin/main [--plots-url URL] [--images-dir DIR] > comment.md

- `dvc params diff <base> --md`, or a sentence saying that no parameter changed;
- `dvc metrics diff <base> --md`, or a sentence, then the verdict of `tools/check_metrics.py`'s rules
  (`tools/metric_tolerances.yaml`) on the same diff;
- a link to the `dvc plots diff <base>` page (uploaded by the workflow) and, with `--images-dir`, the changed
  PNGs side by side (base | this branch), copied into that folder so that `cml comment` can publish them.

The first line is a fixed marker, so a workflow can find and update its earlier comment instead of adding one.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from tools.check_metrics import DEFAULT_RULES, load_rules, metrics_diff, regressions, seed_counts

MARKER = "<!-- eee443-dvc-report -->"
MAX_IMAGES = 8
EXIT_USER_ERROR = 2  # as the stages (pipeline.common.errors): one `error: ...` line, no traceback


def _run(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def check_revision(base: str) -> None:
    """SystemExit(2) with one line when `base` names no commit of this repository."""
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], capture_output=True)
    if found.returncode != 0:
        _fail(f"--base {base}: no such git revision")


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def has_rows(table: str) -> bool:
    """Whether a Markdown table has a row below its header (`dvc ... diff --md` prints a bare header, or nothing,
    when nothing changed)."""
    return len([line for line in table.splitlines() if line.startswith("|")]) > 2


def params_section(base: str) -> str:
    table = _run("dvc", "params", "diff", base, "--md").strip()
    return table if has_rows(table) else f"No parameter changed against `{base}`."


def verdict(diff: dict, problems: list[str], base: str) -> str:
    """One line when every metric is within its tolerance, else one bullet per problem."""
    checked = sum(len(keys) for keys in diff.values())
    if not problems:
        return (f"**Tolerance check: passed.** {checked} metric values checked against `{base}` with "
                "`tools/metric_tolerances.yaml`; none is worse beyond the seeds' noise or its tolerance.")
    lines = [f"**Tolerance check: FAILED** ({checked} metric values checked against `{base}`):", ""]
    return "\n".join(lines + [f"- {problem}" for problem in problems])


def metrics_section(base: str, rules_path: Path = DEFAULT_RULES) -> str:
    table = _run("dvc", "metrics", "diff", base, "--md").strip()
    diff = metrics_diff(base)
    shown = table if has_rows(table) else f"No metric changed against `{base}`."
    rules = load_rules(rules_path)  # the seed counts of each side: the base's from its own params.yaml
    return f"{shown}\n\n{verdict(diff, regressions(diff, rules, seed_counts(base, rules)), base)}"


def changed_images(base: str) -> list[str]:
    """PNG files that differ between `base` and the workspace: changed, added or deleted, and untracked ones."""
    changed = _run("git", "diff", "--name-only", base, "--", "*.png").split()
    untracked = _run("git", "ls-files", "--others", "--exclude-standard", "--", "*.png").split()
    return sorted(set(changed) | set(untracked))


def _copy_base(base: str, path: str, target: Path) -> bool:
    shown = subprocess.run(["git", "show", f"{base}:{path}"], capture_output=True)
    if shown.returncode != 0:
        return False
    target.write_bytes(shown.stdout)
    return True


def images_table(base: str, paths: list[str], images_dir: Path, limit: int = MAX_IMAGES) -> str:
    """A Markdown table with each changed image at `base` and in the workspace, copied into `images_dir`."""
    images_dir.mkdir(parents=True, exist_ok=True)
    rows = ["| file | base | this branch |", "|---|---|---|"]
    for path in paths[:limit]:
        flat = path.replace("/", "_")
        old_file, new_file = images_dir / f"base_{flat}", images_dir / f"new_{flat}"
        old = f"![base]({old_file.as_posix()})" if _copy_base(base, path, old_file) else "(none)"
        new = "(deleted)"
        if Path(path).is_file():
            shutil.copyfile(path, new_file)
            new = f"![new]({new_file.as_posix()})"
        rows.append(f"| `{path}` | {old} | {new} |")
    if len(paths) > limit:
        rows.append(f"\n{len(paths) - limit} more changed images: see the plots page.")
    return "\n".join(rows)


def plots_section(base: str, plots_url: str | None, images_dir: Path | None) -> str:
    lines = []
    if plots_url:
        lines.append(f"[`dvc plots diff {base}`: every declared plot, base and this branch overlaid]({plots_url}) "
                     "(a zip of the HTML page; open `index.html`).")
    paths = changed_images(base)
    if not paths:
        lines.append(f"No image in the repository differs from `{base}`.")
    elif images_dir is None:
        lines.append(f"{len(paths)} images differ from `{base}`: " + ", ".join(f"`{path}`" for path in paths))
    else:
        lines.append(images_table(base, paths, images_dir))
    return "\n\n".join(lines)


def build(base: str, plots_url: str | None = None, images_dir: Path | None = None) -> str:
    return "\n\n".join([
        MARKER,
        f"## DVC report: this branch against `{base}`",
        "### Parameters", params_section(base),
        "### Metrics", metrics_section(base),
        "### Plots", plots_section(base, plots_url, images_dir),
    ]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare the workspace with")
    parser.add_argument("--plots-url", help="where the `dvc plots diff` page was uploaded")
    parser.add_argument("--images-dir", type=Path, help="copy the changed images here and show them side by side")
    args = parser.parse_args()
    check_revision(args.base)
    try:
        comment = build(args.base, args.plots_url, args.images_dir)
    except subprocess.CalledProcessError as err:  # dvc or git failing for another reason: its last line says why
        said = (err.stderr or "").strip().splitlines()
        _fail(f"`{' '.join(map(str, err.cmd))}` failed (exit {err.returncode})" + (f": {said[-1]}" if said else ""))
    print(comment, end="")


if __name__ == "__main__":
    main()
