"""The README's quick start is exactly what CI and the Makefile run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "pip install --require-hashes -r requirements.lock && pip install --no-deps -e ."
PIPELINE = f"{INSTALL} && dvc repro --force"
TESTS = f"{INSTALL} && pytest"


def test_quick_start_commands_are_the_ones_ci_and_make_run():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [block.split("```", 1)[0].strip() for block in quick_start.split("```bash\n")[1:]]
    assert blocks == [PIPELINE, TESTS]
    ci = (ROOT / ".ci" / "run").read_text()
    assert PIPELINE in ci and TESTS in ci
    makefile = (ROOT / "Makefile").read_text()
    assert PIPELINE in makefile and TESTS in makefile
