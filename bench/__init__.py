"""Side-by-side training-speed benchmark: our NumPy library vs PyTorch vs a typical NumPy baseline.

Run it with `python -m bench` (see bench/run.py). Not part of the test suite and not a DVC stage:
timings depend on the machine and its load, so results are committed as measured files.
"""
