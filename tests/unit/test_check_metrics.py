"""The CI metric regression check."""

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.common.provenance import flatten
from tools.check_metrics import DEFAULT_RULES, Rule, find_rule, load_rules, regressions

ROOT = Path(__file__).resolve().parents[2]

RULES = [
    Rule("*seconds*", "ignore"),
    Rule("metrics/q3.json:*accuracy", "higher", 0.01),
    Rule("metrics/q2.json:*cross_entropy", "lower", 0.005),
]


def _diff(file, key, old, new):
    return {file: {key: {"old": old, "new": new}}}


def test_worse_beyond_tolerance_fails_within_passes():
    assert regressions(_diff("metrics/q3.json", "gru.test_accuracy", 0.95, 0.945), RULES) == []
    assert regressions(_diff("metrics/q3.json", "gru.test_accuracy", 0.95, 0.93), RULES)
    assert regressions(_diff("metrics/q3.json", "gru.test_accuracy", 0.95, 0.99), RULES) == []
    assert regressions(_diff("metrics/q2.json", "d8.val_cross_entropy", 2.7, 2.704), RULES) == []
    assert regressions(_diff("metrics/q2.json", "d8.val_cross_entropy", 2.7, 2.8), RULES)


def test_ignored_new_missing_and_unknown_metrics():
    assert regressions(_diff("metrics/q3.json", "gru.seconds", 1, 100), RULES) == []
    assert regressions(_diff("metrics/q3.json", "rnn.test_accuracy", None, 0.5), RULES) == []
    assert "disappeared" in regressions(_diff("metrics/q3.json", "rnn.test_accuracy", 0.8, None), RULES)[0]
    assert "no rule" in regressions(_diff("metrics/q9.json", "x", 1, 1), RULES)[0]


def test_committed_rules_parse():
    assert load_rules(Path(DEFAULT_RULES))


def _committed() -> dict[str, object]:
    """Every metric of metrics/*.json as 'metrics/<file>:<dotted key>' -> value (as dvc metrics diff names it)."""
    found = {}
    for path in sorted((ROOT / "metrics").glob("*.json")):
        values = flatten(json.loads(path.read_text()))
        found.update({f"metrics/{path.name}:{key}": value for key, value in values.items()})
    if not found:
        pytest.skip("metrics/ not produced yet (run `dvc repro`)")
    return found


def test_every_committed_metric_has_a_rule():
    rules = load_rules(Path(DEFAULT_RULES))
    assert [name for name in _committed() if find_rule(rules, name) is None] == []


def test_metrics_are_a_few_headline_numbers():
    metrics = _committed()
    # a few per network or model entry (their count follows params.yaml: q3.models may hold any number of entries)
    per_entry = Counter(name.rsplit(".", 1)[0] if "." in name.split(":", 1)[1] else name.split(":", 1)[0]
                        for name in metrics)
    assert max(per_entry.values()) <= 6, per_entry
    assert all(isinstance(value, int | float) and not isinstance(value, bool) for value in metrics.values())
    assert not [name for name in metrics if "seconds" in name]  # wall-clock times go to logs/
