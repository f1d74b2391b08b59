"""Faults the tests inject into a stage process: Python imports this module at start-up when tests/inject is on
PYTHONPATH (tests.conftest.stage_env), and EEE443_FAULT chooses the fault, in `python -m pipeline...` processes
only (not in DVC's own):

    kill-in-swap     SIGKILL as soon as the output swap has moved its first old output aside
    signal-in-swap   SIGTERM at that moment, delivered to another thread of the process than the one swapping
    change:<file>    <file> changes (a byte appended) when the stage writes its first output, after it read its data
    set:<key>=<yaml> params.yaml's dotted <key> is set to <yaml> at that moment (as a second `dvc exp run -S` does)

The faults are exact moments, not times: a test needs no luck, whatever the load of the machine.
"""

import os
import pathlib
import signal
import sys
import threading

FAULT = os.environ.get("EEE443_FAULT", "")
ARGV = sys.orig_argv


def _in_swap(target) -> bool:
    """A rename of the swap moving an old output aside, to .staging/<id>/old/..."""
    parts = pathlib.Path(target).parts
    return len(parts) > 2 and parts[0] == ".staging" and parts[2] == "old"


def _after_first_move_aside(act) -> None:
    rename = pathlib.Path.rename

    def renamed(self, target):
        done = rename(self, target)
        if _in_swap(target):
            pathlib.Path.rename = rename
            act()
        return done

    pathlib.Path.rename = renamed


def _signal_from_another_thread() -> None:
    """SIGTERM raised in a new thread (so delivered to it); returns once that thread's handler has run."""
    raised = threading.Thread(target=signal.raise_signal, args=(signal.SIGTERM,))
    raised.start()
    raised.join()


def _on_first_write(act) -> None:
    replace = os.replace

    def replaced(src, dst, **kwargs):
        os.replace = replace
        act()
        return replace(src, dst, **kwargs)

    os.replace = replaced


def _append_a_byte(path: str) -> None:
    with open(path, "ab") as handle:
        handle.write(b"\0")


def _set_param(assignment: str) -> None:
    import yaml

    dotted, value = assignment.split("=", 1)
    tree = yaml.safe_load(pathlib.Path("params.yaml").read_text())
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node[key]
    node[leaf] = yaml.safe_load(value)
    pathlib.Path("params.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))


if FAULT and "-m" in ARGV[:-1] and ARGV[ARGV.index("-m") + 1].startswith("pipeline."):
    if FAULT == "kill-in-swap":
        _after_first_move_aside(lambda: os.kill(os.getpid(), signal.SIGKILL))
    elif FAULT == "signal-in-swap":
        _after_first_move_aside(_signal_from_another_thread)
    elif FAULT.startswith("change:"):
        _on_first_write(lambda: _append_a_byte(FAULT.removeprefix("change:")))
    elif FAULT.startswith("set:"):
        _on_first_write(lambda: _set_param(FAULT.removeprefix("set:")))
    else:
        raise SystemExit(f"EEE443_FAULT = {FAULT!r}: unknown fault")
