"""Expected user errors and the one-line, non-zero exit they get; the Typer app of a stage."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

import typer
from threadpoolctl import threadpool_limits

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them) and help text printed as written."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def run(app: Callable[..., object]) -> None:
    """Run a Typer app on one BLAS / OpenMP thread; a problem is one 'error: ...' line on stderr and exit 2.

    Problems: UserError (one line per problem), a bad command line (an unknown option, a missing argument), an
    OSError such as a read-only folder or a full disk, and memory running out. Ctrl-C and SIGTERM (what `kill`
    and DVC's cancellation send) print 'interrupted: ...' and exit 130. Outputs are committed as one set at the end
    of a stage (pipeline.common.staging), so in every one of these cases the earlier outputs stay as they were.
    Thread counts are set here, in code, so OPENBLAS_NUM_THREADS and the like cannot change a result (a stage
    uses more cores through worker processes of one thread each: pipeline.common.parallel).
    """
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where the shell ignores Ctrl-C
        signal.signal(signal.SIGINT, _interrupt)
    try:
        with threadpool_limits(limits=1):
            code = app(standalone_mode=False)  # returns the exit code of --help (0) and of Ctrl-C (130)
    except UserError as err:
        _fail(str(err).splitlines())
    except typer.TyperException as err:  # click's usage errors
        _fail([err.format_message().replace("\n", " ")])
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        _fail([f"{where}{err.strerror or err}; earlier outputs are unchanged"])
    except MemoryError:
        _fail(["out of memory: lower the sizes in params.yaml; earlier outputs are unchanged"])
    if code == EXIT_INTERRUPTED:  # said once the stage has unwound: its seed workers have stopped, it is the last line
        print("interrupted: earlier outputs are unchanged; run `dvc repro` to finish", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # Typer turns it into exit code 130; `run` prints the message
