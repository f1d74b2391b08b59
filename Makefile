# The README's two quick-start commands.
.PHONY: pipeline test
pipeline:
	pip install --require-hashes -r requirements.lock && pip install --no-deps -e . && dvc repro --force
test:
	pip install --require-hashes -r requirements.lock && pip install --no-deps -e . && pytest
