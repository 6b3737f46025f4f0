# The two set-up commands of a fresh machine (see README.md):
#   make demo   -- bootstrap .venv, train ulite on the bundled nuclei data, evaluate, write a report
#   make test   -- bootstrap .venv with dev extras, run ruff and the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bootstrap

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,export]'
	rm -f $(VENV)/.installed-* && touch $@

bootstrap: $(STAMP)

demo: $(STAMP)
	$(BIN)/unetzoo demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 -q
