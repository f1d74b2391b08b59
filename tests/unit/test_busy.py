"""tools.busy: a command run beside one busy loop per core, which it outlives by nothing."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import HANG, ROOT


def test_the_command_runs_beside_the_loops_and_its_exit_code_is_kept():
    code = "import sys; sys.exit(3)"
    # the loops inherit the captured output: run() returns once they, too, have exited
    done = subprocess.run([sys.executable, "-m", "tools.busy", "--loops", "2", sys.executable, "-c", code], cwd=ROOT,
                          capture_output=True, text=True, timeout=HANG)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"tools.busy: {sys.executable} -c {code} exited 3 after "), done.stderr
    assert done.stderr.rstrip().endswith("beside 2 busy loops")
