"""What every report section shares: reading the pipeline's outputs and formatting numbers."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.common import readers
from pipeline.common.document import Figure


class Sources:
    """Read the pipeline's outputs relative to the repository root; a missing or damaged file is a UserError."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, relative: str | Path) -> Path:
        return readers.require(self.root / relative)

    def json(self, relative: str | Path, keys: Iterable[str] = (), numbers: Iterable[str] = ()) -> dict:
        """pipeline.common.readers.read_json: a key read but not listed is checked when it is read."""
        return readers.read_json(self.path(relative), keys, numbers)

    def csv(self, relative: str | Path, columns: Iterable[str] = (), numeric: Iterable[str] = (),
            rows: int | None = None, index: tuple[str, Iterable] | None = None) -> pd.DataFrame:
        """pipeline.common.readers.read_csv: every column the report uses must be listed."""
        return readers.read_csv(self.path(relative), columns, numeric, rows, index)

    def figure(self, relative: str | Path, caption: str) -> Figure:
        self.path(relative)
        return Figure(Path(relative), caption)


def pct(value: float) -> str:
    """0.9716 -> '97.2 %'."""
    return f"{100 * value:.1f} %"


def points(difference: float) -> str:
    """An accuracy difference in percentage points: 0.0217 -> '2.2 points'."""
    return f"{100 * difference:.1f} points"


def num(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def change(first: float, last: float) -> str:
    """'rises', 'falls' or 'stays about the same' (within 2 %) from `first` to `last`."""
    if np.isclose(first, last, rtol=0.02):
        return "stays about the same"
    return "rises" if last > first else "falls"


def trend(values: list[float], names: list[str], what: str) -> str:
    """'<what> rises from a at x to c at z' style sentence comparing the first and last setting."""
    first, last = values[0], values[-1]
    verb = change(first, last)
    if verb == "stays about the same":
        return f"{what} {verb} from {names[0]} ({num(first, 3)}) to {names[-1]} ({num(last, 3)})"
    return f"{what} {verb} from {num(first, 3)} at {names[0]} to {num(last, 3)} at {names[-1]}"
