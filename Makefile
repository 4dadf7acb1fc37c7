# The two commands of the README: `make run` (the whole system on this machine) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

## Install, migrate, load the demo data and run Temporal dev server + worker + API.
run: $(VENV)/.installed-run
	$(BIN)/synergies up

## Install everything the tests need (system packages, PostgreSQL running), lint, and run them all.
test: lint
	scripts/test-services
	$(BIN)/pytest

## ruff (rules and format) and mypy: part of `make test`, so CI fails on a lint error.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api workflows models

docs: $(VENV)/.installed-run
	$(BIN)/synergies docs stages > docs/stages.md

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run
