"""The per-epoch progress line of the training stages (stderr, flushed)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def epoch_printer(label: str, epochs: int) -> Callable[[dict[str, float]], None]:
    """A trainer callback printing '<label> epoch e/epochs: lr, train CE / acc | val CE / acc | seconds' per epoch."""

    def show(entry: dict[str, float]) -> None:
        line = (f"{label} epoch {int(entry['epoch'])}/{epochs}: lr {entry['lr']:.4g} "
                f"train CE {entry['train_loss']:.4f} acc {entry['train_accuracy']:.4f} | "
                f"val CE {entry['val_loss']:.4f} acc {entry['val_accuracy']:.4f} | {entry['seconds']:.1f}s\n")
        sys.stderr.write(line)  # one write, so an interrupt message never lands inside the line
        sys.stderr.flush()

    return show
