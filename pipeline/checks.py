"""Parameter validation done at the start of every stage, before any work.

Each check names the params.yaml key, so the message tells the user what to edit:

    checks = ParamChecks()
    checks.open_unit("q1.rho", rho)
    checks.positive("q1.lr", lr)
    checks.done()   # raises UserError with one line per problem
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

from pipeline.errors import UserError

NAME = re.compile(r"[A-Za-z0-9_]+")  # names that become file names (network and model keys)


class ParamChecks:
    """Collects every bad parameter, then reports them all at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, value: object, rule: str) -> None:
        """Record one problem: 'params.yaml <key> = <value>: <rule>' (for rules not covered below)."""
        self.problems.append(f"params.yaml {key} = {value!r}: {rule}")

    def _number(self, key: str, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, value, "must be a finite number")
            return False
        return True

    def positive(self, key: str, value: float) -> None:
        if self._number(key, value) and not value > 0:
            self.fail(key, value, "must be > 0")

    def non_negative(self, key: str, value: float) -> None:
        if self._number(key, value) and not value >= 0:
            self.fail(key, value, "must be >= 0")

    def open_unit(self, key: str, value: float) -> None:
        """0 < value < 1 (e.g. the sparsity target rho, a validation fraction)."""
        if self._number(key, value) and not 0 < value < 1:
            self.fail(key, value, "must be in (0, 1)")

    def momentum(self, key: str, value: float) -> None:
        """0 <= value < 1."""
        if self._number(key, value) and not 0 <= value < 1:
            self.fail(key, value, "must be in [0, 1)")

    def factor(self, key: str, value: float) -> None:
        """0 < value <= 1 (a multiplicative decay such as the step schedule's gamma)."""
        if self._number(key, value) and not 0 < value <= 1:
            self.fail(key, value, "must be in (0, 1]")

    def less(self, key_low: str, low: float, key_high: str, high: float) -> None:
        """low < high; skipped when either key already has a problem (one line per bad key)."""
        if any(p.startswith((f"params.yaml {key_low} ", f"params.yaml {key_high} ")) for p in self.problems):
            return
        if self._number(key_low, low) and self._number(key_high, high) and not low < high:
            self.problems.append(f"params.yaml {key_low} = {low!r} must be < {key_high} = {high!r}")

    def positive_int(self, key: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.fail(key, value, "must be a positive integer")

    def non_negative_int(self, key: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, value, "must be an integer >= 0")

    def each(self, rule: Callable[[str, object], None], key: str, values: Iterable[object]) -> None:
        """Apply `rule` (e.g. self.positive_int) to every item of a list, keyed '<key>[i]'."""
        for i, value in enumerate(values):
            rule(f"{key}[{i}]", value)

    def distinct(self, key: str, values: list[object]) -> None:
        if len(set(values)) < len(values):
            self.fail(key, values, "values must be distinct")

    def name(self, key: str, value: str) -> None:
        """A name used in file names: letters, digits and _ only."""
        if not NAME.fullmatch(value):
            self.fail(key, value, "must use only letters, digits and _")

    def choice(self, key: str, value: object, choices: Iterable[str]) -> None:
        choices = list(choices)
        if value not in choices:
            self.fail(key, value, f"must be one of {', '.join(choices)}")

    def done(self) -> None:
        """Raise UserError listing every problem found, if any."""
        if self.problems:
            raise UserError("\n".join(self.problems))
