"""Expected user errors and the one-line, non-zero exit they get."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

import typer

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them)."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False)


def run(app: Callable[[], object]) -> None:
    """Run a Typer app; UserError -> 'error: ...' on stderr and exit 2; Ctrl-C or SIGTERM -> exit 130.

    SIGTERM (what `kill` and DVC's cancellation send) is treated like Ctrl-C, so temporary files are
    removed on the way out; outputs are written atomically, so earlier outputs stay intact.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()  # Typer itself reports bad command lines (exit 2) and turns Ctrl-C into exit 130
    except UserError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def _interrupt(signum, frame) -> None:
    print("interrupted: earlier outputs are unchanged; run `dvc repro` to finish", file=sys.stderr)
    raise KeyboardInterrupt
