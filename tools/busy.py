"""Run a command on a busy machine: one busy loop per core beside it, stopped when the command ends.

    python -m tools.busy pytest -m faults        # the interrupt and fault tests under load (what .ci/run does)

The loops are plain processes spinning in Python (`os.cpu_count()` of them, or --loops N), so every core is
shared with them while the command runs, as on a machine where other jobs run. Exits with the command's code.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

LOOP = "while True: pass"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=os.cpu_count() or 1, help="busy loops (default: one per core)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give a command to run")
    loops = [subprocess.Popen([sys.executable, "-c", LOOP]) for _ in range(args.loops)]
    started = time.monotonic()
    try:
        command = subprocess.Popen(args.command)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle, as under a shell
        code = command.wait()
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    print(f"tools.busy: {' '.join(args.command)} exited {code} after {time.monotonic() - started:.0f} s beside "
          f"{args.loops} busy loops", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
