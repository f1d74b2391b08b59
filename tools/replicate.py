"""Run the Q3 studies again with a disjoint seed set and keep what the report checks its verdicts against.

    python -m tools.replicate [--seeds 3 4 5]

Runs `dvc exp run -S q3.seeds=[...] q3_compare` (the Q3 stages only) in the workspace, copies the experiment's
results/q3/compare/differences.csv and metrics/q3.json into replication/q3/ with params.json (the q3 settings it ran
with), then puts params.yaml, dvc.lock and the outputs back as committed (the outputs are git-tracked: `git checkout`,
and `git clean` of the output folders for the other seeds' files). It refuses to start unless every file but
replication/ is as committed, so that nothing uncommitted can be lost. The default seeds are as many as
params.yaml q3.seeds, none of them among those. Commit replication/q3 and run
`dvc repro`: the report states a verdict word only where both seed sets give it. It costs one run of the Q3 stages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.report.q3 import REPLICATION

FOLDER = REPLICATION  # what the report reads
OUTPUTS = ("artifacts", "results", "plots", "metrics")  # the stages' git-tracked output folders
COPIED = {Path("results/q3/compare/differences.csv"): "differences.csv", Path("metrics/q3.json"): "metrics.json"}


def disjoint_seeds(seeds: list[int]) -> list[int]:
    """As many seeds as `seeds`, each above all of them: [0, 1, 2] -> [3, 4, 5]."""
    start = max(seeds) + 1
    return list(range(start, start + len(seeds)))


def run(*command: str) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def uncommitted() -> list[str]:
    """`git status --porcelain` lines of everything but replication/."""
    lines = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    return [line for line in lines.splitlines() if not line[3:].startswith(f"{FOLDER.parts[0]}/")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", help="the second seed set (default: disjoint, same size)")
    args = parser.parse_args(argv)
    q3 = yaml.safe_load(Path("params.yaml").read_text())["q3"]
    seeds = args.seeds or disjoint_seeds(q3["seeds"])
    if set(seeds) & set(q3["seeds"]):
        print(f"error: --seeds {seeds} share seeds with params.yaml q3.seeds {q3['seeds']}: the sets must be "
              "disjoint", file=sys.stderr)
        return 2
    if changed := uncommitted():
        print(f"error: {len(changed)} files differ from the commit (first: {changed[0][3:]}); commit or stash them "
              "first: the run is undone with git checkout", file=sys.stderr)
        return 2
    try:
        run(sys.executable, "-m", "dvc", "exp", "run", "-S", f"q3.seeds={json.dumps(seeds)}", "q3_compare")
        FOLDER.mkdir(parents=True, exist_ok=True)
        for source, name in COPIED.items():
            shutil.copyfile(source, FOLDER / name)
        (FOLDER / "params.json").write_text(json.dumps({"seeds": seeds, "q3": {**q3, "seeds": seeds}}, indent=2)
                                            + "\n")
    finally:
        run("git", "checkout", "--", "params.yaml", "dvc.lock", *OUTPUTS)
        run("git", "clean", "-fdq", "--", *OUTPUTS)
    print(f"replicate: {FOLDER} holds the verdicts of seeds {seeds}; commit it and run dvc repro", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
