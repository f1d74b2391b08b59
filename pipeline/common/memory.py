"""Sizes checked before anything is allocated: against the machine's memory (a huge hidden size is one error line)
and against the data (a mini-batch larger than the training set)."""

from __future__ import annotations

import os

from pipeline.common.errors import UserError


def machine_bytes() -> int:
    """Physical memory of this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits(key: str, value: object, needed_bytes: float) -> None:
    """UserError naming params.yaml `key` when a run would need more than half of this machine's memory."""
    available = machine_bytes() / 2
    if needed_bytes > available:
        raise UserError(f"params.yaml {key} = {value!r}: the run would need about {_size(needed_bytes)} of memory, "
                        f"more than half of this machine's {_size(2 * available)}; lower it")


def check_batch(key: str, batch: int, rows: int, what: str) -> None:
    """UserError naming params.yaml `key` when the mini-batch size `batch` is larger than the training set, `rows`
    `what` (e.g. "windows")."""
    if batch > rows:
        raise UserError(f"params.yaml {key} = {batch!r}: larger than the training set ({rows} {what}); lower it")


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} PiB"
