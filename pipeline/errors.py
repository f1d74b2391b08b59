"""Expected user errors and the one-line, non-zero exit they get."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them)."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False)


def run(app: Callable[[], object]) -> None:
    """Run a Typer app; UserError -> 'error: ...' on stderr and exit 2, Ctrl-C -> exit 130.

    Outputs are written atomically, so an interrupted stage leaves earlier outputs intact.
    """
    try:
        app()
    except UserError as err:
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted: earlier outputs are unchanged; rerun `dvc repro` to finish", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
