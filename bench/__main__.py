"""`python -m bench`: see bench/run.py."""

from bench.run import app
from pipeline.common.errors import run

run(app)
