"""Fail when a tracked metric got worse than its committed value beyond the noise: the seeds' spread, or a tolerance.

`dvc metrics diff` always exits 0 (and prints nothing when nothing changed), so CI runs this after
`dvc repro`: it reads `dvc metrics diff <rev> --all --json` and applies the rules of
`tools/metric_tolerances.yaml`, the one place where the gate is declared. Every metric key must be
matched by a rule (first match wins), so a new metric cannot slip through unchecked.

A rule with `seeds: <params key>` gates a mean over seeds (q2.seeds, q3.seeds): the metric's std over the seeds sits
beside it as `<metric>_std` in the same file, the seed count is the length of that params.yaml list (at `rev` for the
committed side, in the workspace for the rerun). Committed and rerun means are compared by Student's two-sample t-test
with the pooled seed variance (under the null hypothesis the rerun is the same model with other seeds: one variance),
one-sided (is the rerun worse?). All those tests are one family: Holm's
step-down procedure keeps the chance that a clean rerun fails at all below the file's `family_alpha`. A rule with a
`tolerance` (a metric with no seed spread) fails when the rerun is worse by more than that absolute amount.

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
from scipy import stats

from pipeline.common.params_file import value_at
from pipeline.common.seeds import holm_adjusted

DEFAULT_RULES = Path(__file__).with_name("metric_tolerances.yaml")
PARAMS_FILE = Path("params.yaml")
STD_SUFFIX = "_std"  # a mean's std over the seeds: the key "<metric>_std" beside "<metric>"


@dataclass(frozen=True)
class Rule:
    match: str
    better: str  # "higher", "lower" or "ignore"
    tolerance: float = 0.0  # how much worse (absolute) still passes; for metrics without a seed spread
    seeds: str | None = None  # params key of the seed list this metric is a mean over (then tested over seeds)


class Rules(list):
    """The rules in their order (a list of Rule) and `alpha`, the family-wise error rate of the tests over seeds."""

    def __init__(self, rules: list[Rule], alpha: float | None = None):
        super().__init__(rules)
        self.alpha = alpha


@dataclass(frozen=True)
class SeedTest:
    """One metric tested over seeds: `p` is the one-sided p-value of "the rerun is worse"."""

    name: str
    old: float
    new: float
    old_std: float
    new_std: float
    seeds: tuple[int, int]  # committed, rerun
    p: float
    note: str = ""


def load_rules(path: Path) -> Rules:
    loaded = yaml.safe_load(path.read_text())
    rules = Rules([Rule(**entry) for entry in loaded["rules"]], loaded.get("family_alpha"))
    for rule in rules:
        if (rule.better not in ("higher", "lower", "ignore") or rule.tolerance < 0
                or (rule.seeds is not None and (rule.better == "ignore" or rule.tolerance))):
            raise SystemExit(f"{path}: bad rule {rule}")
    if any(rule.seeds for rule in rules) and not (rules.alpha is not None and 0 < rules.alpha < 1):
        raise SystemExit(f"{path}: family_alpha must be in (0, 1) for the rules with seeds")
    return rules


def find_rule(rules: list[Rule], name: str) -> Rule | None:
    return next((rule for rule in rules if fnmatch.fnmatchcase(name, rule.match)), None)


def one_sided_p(worse_by: float, old: tuple[float, int], new: tuple[float, int]) -> float:
    """p-value of "the rerun's mean is worse than the committed one", `worse_by` the change in the worse direction
    (> 0: worse), ((std, seeds) of each mean). Student's two-sample t-test with the pooled variance, k_old + k_new - 2
    degrees of freedom: under the gate's null hypothesis the rerun is the same model with other seeds (or another
    CPU), so both sides have one seed variance. The report's Welch test is for two different models, whose variances
    may differ; with 3 seeds a side its ~2 degrees of freedom could not flag even gru_aug at lr x10 (test accuracy
    0.948 -> 0.408: one-sided p 0.0037 against Holm's 0.05 / 27)."""
    (old_std, k_old), (new_std, k_new) = old, new
    if old_std == new_std == 0:  # no spread at all: any worsening is beyond it
        return 0.0 if worse_by > 0 else 1.0
    return float(stats.ttest_ind_from_stats(worse_by, new_std, k_new, 0.0, old_std, k_old,
                                            alternative="greater").pvalue)


def holm(tests: list[SeedTest], alpha: float) -> list[tuple[SeedTest, float]]:
    """The tests Holm's step-down procedure rejects at family-wise level `alpha` (their Holm-adjusted p < alpha, as
    the report's verdicts), smallest p first, each with its adjusted p."""
    adjusted = holm_adjusted([test.p for test in tests])
    return sorted(((t, a) for t, a in zip(tests, adjusted, strict=True) if a < alpha), key=lambda pair: pair[0].p)


def workspace_seeds(rules: list[Rule], params_file: Path = PARAMS_FILE) -> dict[str, tuple[int | None, int | None]]:
    """{seeds key: (count, count)} from one params.yaml for both sides (when the committed params are not given)."""
    params = yaml.safe_load(params_file.read_text()) if params_file.exists() else {}
    return {key: (n := seed_count(params, key), n) for key in {rule.seeds for rule in rules if rule.seeds}}


def seed_count(params: dict, key: str) -> int | None:
    """Length of the list at dotted `key` of loaded params ("q3.seeds"); None when it is not there."""
    value = value_at(params, key)
    return len(value) if isinstance(value, list) else None


def seed_tests(diff: dict, rules: list[Rule], seeds: dict[str, tuple[int | None, int | None]]
               ) -> tuple[list[SeedTest], list[str]]:
    """The metrics of `diff` whose rule names seeds, each tested (SeedTest), and the problems that keep a metric from
    being tested (no std in the rerun, fewer than two seeds)."""
    tests, problems = [], []
    for file, keys in sorted(diff.items()):
        for key, change in sorted(keys.items()):
            name = f"{file}:{key}"
            rule = find_rule(rules, name)
            old, new = change.get("old"), change.get("new")
            if rule is None or rule.seeds is None or not _numbers(old, new):
                continue
            std = keys.get(key + STD_SUFFIX, {})
            old_std, new_std, note = std.get("old"), std.get("new"), ""
            k_old, k_new = seeds.get(rule.seeds, (None, None))
            k_old = k_old if k_old is not None else k_new
            if not isinstance(new_std, (int, float)):
                problems.append(f"{name}: no {key + STD_SUFFIX} beside it in the rerun (a mean over {rule.seeds} "
                                "is tested against its std over the seeds)")
                continue
            if not isinstance(old_std, (int, float)):
                old_std, note = new_std, f"; the committed {key + STD_SUFFIX} is missing: the rerun's taken for both"
            if k_new is None or k_new < 2 or k_old < 2:
                problems.append(f"{name}: a mean over {k_old} and {k_new} seeds ({rule.seeds}) cannot be tested "
                                "against the seeds' spread (at least 2 are needed)")
                continue
            worse_by = old - new if rule.better == "higher" else new - old
            p = one_sided_p(worse_by, (old_std, k_old), (new_std, k_new))
            tests.append(SeedTest(name, old, new, old_std, new_std, (k_old, k_new), p, note))
    return tests, problems


def regressions(diff: dict, rules: list[Rule], seeds: dict[str, tuple[int | None, int | None]] | None = None,
                alpha: float | None = None) -> list[str]:
    """Problems found in a `dvc metrics diff --json` result ({file: {key: {old, new, diff}}}). `seeds`: {params key:
    (committed, rerun) seed counts} (default: both from the workspace params.yaml); `alpha` (default: the rules')
    the family-wise level of the tests over seeds."""
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
            elif not _numbers(old, new) or rule.seeds is not None:
                continue
            elif rule.better == "higher" and new < old - rule.tolerance:
                problems.append(f"{name}: {new:.6g} is worse than the committed {old:.6g} (tolerance {rule.tolerance})")
            elif rule.better == "lower" and new > old + rule.tolerance:
                problems.append(f"{name}: {new:.6g} is worse than the committed {old:.6g} (tolerance {rule.tolerance})")
    if any(rule.seeds for rule in rules):
        tests, untested = seed_tests(diff, rules, seeds if seeds is not None else workspace_seeds(rules))
        alpha = alpha if alpha is not None else getattr(rules, "alpha", None)
        if tests and alpha is None:
            raise ValueError("rules with seeds need a family-wise alpha")
        problems += untested + [describe(test, adjusted, alpha, len(tests)) for test, adjusted in holm(tests, alpha)]
    return problems


def describe(test: SeedTest, adjusted: float, alpha: float, family: int) -> str:
    return (f"{test.name}: {test.new:.6g} is worse than the committed {test.old:.6g} beyond the seeds' spread "
            f"(std {test.new_std:.3g} over {test.seeds[1]} seeds, committed {test.old_std:.3g} over {test.seeds[0]}; "
            f"one-sided p = {test.p:.2g}, Holm-adjusted over {family} metrics {adjusted:.2g} < {alpha:g}{test.note})")


def _numbers(*values) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def metrics_diff(rev: str) -> dict:
    """`dvc metrics diff <rev> --all --json` of the workspace: {file: {key: {old, new, diff}}}."""
    shown = subprocess.run(
        ["dvc", "metrics", "diff", rev, "--all", "--json"], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(shown or "{}")


def seed_counts(rev: str, rules: list[Rule]) -> dict[str, tuple[int | None, int | None]]:
    """{seeds key: (count in params.yaml at `rev`, count in the workspace's params.yaml)} for the rules' seeds keys."""
    shown = subprocess.run(["git", "show", f"{rev}:{PARAMS_FILE}"], capture_output=True, text=True)
    committed = yaml.safe_load(shown.stdout) if shown.returncode == 0 else {}
    workspace = yaml.safe_load(PARAMS_FILE.read_text())
    return {key: (seed_count(committed, key), seed_count(workspace, key))
            for key in {rule.seeds for rule in rules if rule.seeds}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="HEAD", help="git revision holding the committed metrics")
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    args = parser.parse_args()
    rules = load_rules(args.rules)
    diff = metrics_diff(args.rev)
    seeds = seed_counts(args.rev, rules)
    problems = regressions(diff, rules, seeds)
    tests = seed_tests(diff, rules, seeds)[0]
    checked = sum(len(keys) for keys in diff.values())
    print(f"metrics: {checked} values against {args.rev}; {len(tests)} means tested over seeds (one-sided, Holm, "
          f"family-wise alpha {rules.alpha}); the lowest p-values:")
    for i, test in enumerate(sorted(tests, key=lambda t: t.p)[:5]):
        print(f"  {test.name}: {test.old:.6g} -> {test.new:.6g}, p = {test.p:.2g} "
              f"(Holm threshold {rules.alpha / (len(tests) - i):.2g})")
    for problem in problems:
        print(f"metric regression: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"metrics: none worse than the committed {args.rev} beyond the seeds' spread or its tolerance")


if __name__ == "__main__":
    main()
