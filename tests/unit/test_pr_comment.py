"""The pull-request comment of the hosted CI (tools/pr_comment.py): its pieces, without DVC."""

from tools.check_metrics import Rule, regressions
from tools.pr_comment import has_rows, verdict

RULES = [Rule("metrics/q3.json:*accuracy", "higher", 0.01)]


def test_a_bare_table_header_or_nothing_has_no_rows():
    assert not has_rows("")
    assert not has_rows("| Path   | Param   | HEAD   | workspace   |\n|--------|---------|--------|-------------|")
    assert has_rows("| Path | Param | HEAD | workspace |\n|---|---|---|---|\n| params.yaml | q1.rho | 0.05 | 0.1 |")


def test_the_verdict_passes_or_lists_each_regression():
    within = {"metrics/q3.json": {"gru.test_accuracy": {"old": 0.95, "new": 0.945}}}
    assert verdict(within, regressions(within, RULES), "main").startswith("**Tolerance check: passed.** 1 metric")
    worse = {"metrics/q3.json": {"gru.test_accuracy": {"old": 0.95, "new": 0.9},
                                 "rnn.test_accuracy": {"old": 0.95, "new": 0.8}}}
    shown = verdict(worse, regressions(worse, RULES), "main")
    assert shown.startswith("**Tolerance check: FAILED** (2 metric values checked against `main`)")
    assert "- metrics/q3.json:gru.test_accuracy: 0.9 is worse" in shown
    assert "- metrics/q3.json:rnn.test_accuracy: 0.8 is worse" in shown


def test_an_unknown_base_revision_is_one_line_naming_it_and_exit_2():
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run([sys.executable, "-m", "tools.pr_comment", "--base", "no_such_rev"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["error: --base no_such_rev: no such git revision"]
