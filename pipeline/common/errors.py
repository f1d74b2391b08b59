"""Expected user errors and the one-line, non-zero exit they get; the Typer app of a stage; signals held back."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from threadpoolctl import threadpool_limits

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM
HELD = (signal.SIGINT, signal.SIGTERM)
PARENT_POLL = 0.5  # seconds between a stage's checks that the process that started it is alive
SHELLS = {"sh", "bash", "dash", "zsh", "fish"}  # a starter that is one of these is a shell between dvc and the stage
_stage = "the stage"  # what `run` runs, for messages (see `stage`)
_starters: list[tuple[int, int]] | None = None  # (pid, parent pid) of what started the running stage; None: no stage


class UserError(Exception):
    """A problem the user can fix (bad file, bad parameter): reported as one line per problem."""


def make_app(help_text: str) -> typer.Typer:
    """A Typer app with plain tracebacks (only real bugs reach them) and help text printed as written."""
    return typer.Typer(help=help_text, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def diverged(label: str, epoch: int, loss: float, causes: dict[str, object], also: str = "") -> UserError:
    """The error of a training whose loss blew up at `epoch`: it names every params.yaml key (with its value) whose
    too large a value can cause that, and `also` what else helps."""
    named = [f"{key} (now {value})" for key, value in causes.items()]
    listed = f"{', '.join(named[:-1])} or {named[-1]}" if len(named) > 1 else named[0]
    return UserError(f"{label}: training diverged at epoch {epoch} (loss {loss}); lower params.yaml {listed}{also}")


def stage() -> str:
    """The stage this process runs, as messages name it: DVC's name under `dvc repro` (q3_train@gru), else the
    command (pipeline.q3.train gru)."""
    return _stage


def run(app: typer.Typer) -> None:
    """Run a Typer app on one BLAS / OpenMP thread; a problem is one 'error: ...' line on stderr and exit 2.

    Problems: UserError (one line per problem), a bad command line (an unknown option, a missing argument), an
    OSError such as a read-only folder or a full disk, and memory running out. Ctrl-C and SIGTERM (what `kill`
    and DVC's cancellation send) print 'interrupted: ...' and exit 130. Outputs are committed as one set at the end
    of a stage (pipeline.common.staging), so each message can say what became of them: unchanged, or the new set in
    place when the interrupt came during the swap. Before the stage starts, a swap an earlier run left unfinished is
    finished, and the data files the stage reads are recorded from then on (pipeline.common.inputs).
    Thread counts are set here, in code, so OPENBLAS_NUM_THREADS and the like cannot change a result (a stage
    uses more cores through worker processes of one thread each: pipeline.common.parallel).
    """
    from pipeline.common import inputs, staging  # both import this module

    global _stage
    spec = sys.modules[app.registered_commands[0].callback.__module__].__spec__  # __main__'s under python -m
    _stage = os.environ.get("DVC_STAGE") or " ".join([spec.name if spec else sys.argv[0], *sys.argv[1:]])
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where the shell ignores Ctrl-C
        signal.signal(signal.SIGINT, _interrupt)
    _watch_starter()
    try:
        staging.start()
        inputs.start()
        with threadpool_limits(limits=1):
            code = app(standalone_mode=False)  # returns the exit code of --help (0) and of Ctrl-C (130)
    except UserError as err:
        _fail(str(err).splitlines())
    except typer.TyperException as err:  # click's usage errors
        _fail([err.format_message().replace("\n", " ")])
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        _fail([f"{where}{err.strerror or err}; {staging.outcome()}"])
    except MemoryError:
        _fail([f"out of memory: lower the sizes in params.yaml; {staging.outcome()}"])
    finally:
        _stop_watching()
        inputs.stop()
    if code == EXIT_INTERRUPTED:  # said once the stage has unwound: its seed workers have stopped, it is the last line
        print(f"interrupted: {staging.outcome()}; run `dvc repro` to finish", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


def _parent_of(pid: int) -> int | None:
    """The parent process id of `pid` (Linux /proc); None when `pid` is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _watch_starter() -> None:
    """Stop this stage (as SIGTERM would) once the process that started it is gone: dvc killed alone (a CI cancel, a
    closed terminal, `dvc queue kill --force`) must not leave it training on and publishing outputs dvc.lock will
    never record. A shell in between (`bash -c` of dvc) is looked through."""
    global _starters
    parent = os.getppid()
    _starters = [(os.getpid(), parent)]
    try:
        shell = Path(f"/proc/{parent}/comm").read_text().strip() in SHELLS
    except OSError:
        shell = False
    if shell and (grandparent := _parent_of(parent)) is not None:
        _starters.append((parent, grandparent))
    if not any(thread.name == "stage-starter-watch" for thread in threading.enumerate()):
        threading.Thread(target=_watch, name="stage-starter-watch", daemon=True).start()


def _stop_watching() -> None:
    global _starters
    _starters = None


def _watch() -> None:
    while True:
        time.sleep(PARENT_POLL)
        starters = _starters
        if starters and any(_parent_of(pid) != parent for pid, parent in starters):
            _stop_watching()
            with contextlib.suppress(OSError):  # the terminal may be gone with the starter
                print(f"note: {_stage}: the process that started it has exited; stopping", file=sys.stderr,
                      flush=True)
            os.kill(os.getpid(), signal.SIGTERM)


def _fail(lines: list[str]) -> None:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # Typer turns it into exit code 130; `run` prints the message


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends, then act as they would have (main thread only).

    Python runs a signal's handler in the main thread whichever thread of the process the system delivered it to,
    so handlers that only note the signal hold it back in every thread (pthread_sigmask would hold it back in the
    calling thread alone: the system then delivers it to another thread, a BLAS one for instance).
    """
    noted: list[int] = []
    previous = {signum: signal.signal(signum, lambda got, frame: noted.append(got)) for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """An OSError of the block that names no file names `path` (a write() on a full disk names none)."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
