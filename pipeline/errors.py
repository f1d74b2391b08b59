"""Expected user errors and the one-line, non-zero exit they get."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Callable

import typer

EXIT_USER_ERROR = 2
PARAMS_KEY = re.compile(r"params\.yaml ([\w<>]+(?:\.[\w<>]+)+)")  # the dotted key an option's help text names


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them)."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False)


def run(app: Callable[..., object]) -> None:
    """Run a Typer app; UserError -> 'error: ...' on stderr and exit 2; Ctrl-C or SIGTERM -> exit 130.

    A bad command line (an option of the wrong type, an unknown option) is one 'error: ...' line and exit 2 too.
    SIGTERM (what `kill` and DVC's cancellation send) is treated like Ctrl-C, so temporary files are
    removed on the way out; outputs are written atomically, so earlier outputs stay intact.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = app(standalone_mode=False)  # returns the exit code of --help (0) and of Ctrl-C (130)
    except UserError as err:
        _fail(str(err).splitlines())
    except typer.TyperException as err:  # click's usage errors
        _fail([usage_line(err)])
    sys.exit(code if isinstance(code, int) else 0)


def usage_line(err: typer.TyperException) -> str:
    """One line for a bad command line; a bad option value names the params.yaml key its help text gives.

    e.g. "params.yaml q2.lr = 'abc' (option --lr): Input should be a valid number, ..."
    """
    param = getattr(err, "param", None)
    if not isinstance(err, typer.BadParameter) or param is None or not err.message:
        return err.format_message().replace("\n", " ")
    option = "/".join(param.opts)
    key = PARAMS_KEY.search(param.help or "")
    subject = f"option {option}" if key is None else f"params.yaml {key.group(1)}"
    value = _bad_input(err)
    if value is not None:
        subject += f" = {value!r}"
    if key is not None:
        subject += f" (option {option})"
    return f"{subject}: {err.message}".replace("\n", " ")


def _bad_input(err: typer.BadParameter) -> object | None:
    """The value Typer could not convert, from the pydantic ValidationError it chains (None if there is none)."""
    errors = getattr(err.__cause__, "errors", None)
    return errors()[0].get("input") if callable(errors) and errors() else None


def _fail(lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _interrupt(signum, frame) -> None:
    print("interrupted: earlier outputs are unchanged; run `dvc repro` to finish", file=sys.stderr)
    raise KeyboardInterrupt
