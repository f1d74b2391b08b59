# The README's two quick-start commands.
.PHONY: pipeline test
pipeline:
	pip install -e . && dvc repro
test:
	pip install -e ".[test]" && pytest
