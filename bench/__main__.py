"""`python -m bench`: see bench/run.py."""

from bench.run import app
from pipeline.errors import run

run(app)
