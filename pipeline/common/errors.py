"""Expected user errors and the one-line, non-zero exit they get; the Typer app of a stage."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

import typer

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them) and help text printed as written."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def run(app: Callable[..., object]) -> None:
    """Run a Typer app; UserError -> 'error: ...' on stderr and exit 2; Ctrl-C or SIGTERM -> exit 130.

    A bad command line (an unknown option, a missing argument) is one 'error: ...' line and exit 2 too.
    SIGTERM (what `kill` and DVC's cancellation send) is treated like Ctrl-C, so temporary files are
    removed on the way out; outputs are written atomically, so earlier outputs stay intact.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = app(standalone_mode=False)  # returns the exit code of --help (0) and of Ctrl-C (130)
    except UserError as err:
        _fail(str(err).splitlines())
    except typer.TyperException as err:  # click's usage errors
        _fail([err.format_message().replace("\n", " ")])
    sys.exit(code if isinstance(code, int) else 0)


def _fail(lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _interrupt(signum, frame) -> None:
    print("interrupted: earlier outputs are unchanged; run `dvc repro` to finish", file=sys.stderr)
    raise KeyboardInterrupt
