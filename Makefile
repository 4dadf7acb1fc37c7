# The two commands of the README: `make run` (the whole system on this machine) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs the locked requirements (requirements/*.txt, exact versions with hashes); it comes
# from PyPI into its own small venv, pinned here.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# Trust the machine's certificate store, as pip does (TLS-inspecting proxies, company CAs).
export UV_SYSTEM_CERTS := 1
LOCK := $(UV) pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--no-emit-index-url --quiet

.PHONY: run test lint lock bench docs guide

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/python: | $(UV)
	$(PYTHON) -m venv $(VENV)

# The application alone (make run) or with the dev tools (make test): one sync each, exactly the
# lock's packages, then the project itself in editable mode.
$(VENV)/.installed-run: requirements/run.txt pyproject.toml | $(BIN)/python
	$(UV) pip sync --quiet --require-hashes --python $(BIN)/python requirements/run.txt
	$(UV) pip install --quiet --no-deps --python $(BIN)/python -e .
	rm -f $(VENV)/.installed-dev
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt pyproject.toml | $(BIN)/python
	$(UV) pip sync --quiet --require-hashes --python $(BIN)/python requirements/dev.txt
	$(UV) pip install --quiet --no-deps --python $(BIN)/python -e .
	touch $@ $(VENV)/.installed-run

## Re-resolve the locks after a change of pyproject.toml's dependencies (run.txt within dev.txt).
lock: | $(UV)
	$(LOCK) --extra dev -o requirements/dev.txt
	$(LOCK) -c requirements/dev.txt -o requirements/run.txt

## Install, migrate, load the demo data and run Temporal dev server + worker + API.
run: $(VENV)/.installed-run
	$(BIN)/synergies up

## Install everything the tests need (system packages, PostgreSQL running), lint, and run them all:
## two pytest processes at once, one per backend (.ci/pytest-shards; logs in .test-logs/), or one
## process for both with `make test PYTEST=.venv/bin/pytest`.
PYTEST ?= .ci/pytest-shards
test: lint
	scripts/test-services
	$(PYTEST)

## ruff (rules and format) and mypy: part of `make test`, so CI fails on a lint error.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core models services workflows api cli

docs: $(VENV)/.installed-run
	$(BIN)/synergies docs stages > docs/stages.md
	$(BIN)/synergies docs env > .env.example

## The screenshots of docs/guide.md, from the demo data (needs Debian's chromium).
guide: $(VENV)/.installed-dev
	$(BIN)/python scripts/guide_screenshots.py

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench.run
