"""Fail when a tracked metric got worse than its committed value beyond its declared tolerance.

`dvc metrics diff` always exits 0 (and prints nothing when nothing changed), so CI runs this after
`dvc repro`: it reads `dvc metrics diff <rev> --json` and applies the rules of
`tools/metric_tolerances.yaml`, the one place where tolerances are declared. Every metric key must be
matched by a rule (first match wins), so a new metric cannot slip through unchecked.

    python -m tools.check_metrics [--rev HEAD] [--rules tools/metric_tolerances.yaml]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_RULES = Path(__file__).with_name("metric_tolerances.yaml")


@dataclass(frozen=True)
class Rule:
    match: str
    better: str  # "higher", "lower" or "ignore"
    tolerance: float = 0.0


def load_rules(path: Path) -> list[Rule]:
    rules = [Rule(**entry) for entry in yaml.safe_load(path.read_text())["rules"]]
    for rule in rules:
        if rule.better not in ("higher", "lower", "ignore") or rule.tolerance < 0:
            raise SystemExit(f"{path}: bad rule {rule}")
    return rules


def find_rule(rules: list[Rule], name: str) -> Rule | None:
    return next((rule for rule in rules if fnmatch.fnmatchcase(name, rule.match)), None)


def regressions(diff: dict, rules: list[Rule]) -> list[str]:
    """Problems found in a `dvc metrics diff --json` result ({file: {key: {old, new, diff}}})."""
    problems = []
    for file, keys in sorted(diff.items()):
        for key, change in sorted(keys.items()):
            name = f"{file}:{key}"
            rule = find_rule(rules, name)
            old, new = change.get("old"), change.get("new")
            if rule is None:
                problems.append(f"{name}: no rule in metric_tolerances.yaml (old {old}, new {new})")
            elif rule.better == "ignore" or old is None:
                continue
            elif new is None:
                problems.append(f"{name}: metric disappeared (committed {old})")
            elif not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
                continue
            elif rule.better == "higher" and new < old - rule.tolerance:
                problems.append(f"{name}: {new:.6g} is worse than the committed {old:.6g} (tolerance {rule.tolerance})")
            elif rule.better == "lower" and new > old + rule.tolerance:
                problems.append(f"{name}: {new:.6g} is worse than the committed {old:.6g} (tolerance {rule.tolerance})")
    return problems


def metrics_diff(rev: str) -> dict:
    """`dvc metrics diff <rev> --all --json` of the workspace: {file: {key: {old, new, diff}}}."""
    shown = subprocess.run(
        ["dvc", "metrics", "diff", rev, "--all", "--json"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(shown or "{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision holding the committed metrics")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    args = parser.parse_args()
    diff = metrics_diff(args.rev)
    problems = regressions(diff, load_rules(args.rules))
    checked = sum(len(keys) for keys in diff.values())
    for problem in problems:
        print(f"metric regression: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"metrics: {checked} values checked against {args.rev}, none worse than its tolerance")


if __name__ == "__main__":
    main()
