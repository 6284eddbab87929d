# Watchkeeper — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BUILD  := pyproject.toml setup.py src/watchkeeper/trust/_scan.c src/watchkeeper/signals/_langscan.c src/watchkeeper/signals/_wordscan.c
STAMP  := $(VENV)/.installed-$(shell cat $(BUILD) | cksum | cut -d' ' -f1)

.PHONY: install demo serve test test-fast lint bench docs-check clean

$(STAMP): $(BUILD)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

## install: create .venv and install Watchkeeper with its test tools (idempotent)
install: $(STAMP)

## demo: install, then start the server on the embedded SQLite store with live synthetic traffic
demo: install
	$(VENV)/bin/watchkeeper demo

## serve: install, then start the server (no synthetic traffic)
serve: install
	$(VENV)/bin/watchkeeper serve

# Tests run in one worker process per core, at most 4 (each worker has its own PostgreSQL database and browser).
XDIST  := --numprocesses=auto --maxprocesses=4

## test: install, then run the whole test suite
test: install
	$(PY) -m pytest -q $(XDIST)

## test-fast: the suite without the tests that start server processes
test-fast: install
	$(PY) -m pytest -q $(XDIST) -m "not slow"

## lint: ruff and mypy --strict on src/, and the generated docs are up to date
lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

## docs: regenerate the generated parts of docs/
docs: install
	$(PY) -m watchkeeper.cli config --markdown > docs/configuration-table.md
	sed -n '1,/^The table below/p' docs/configuration.md > docs/.configuration.head && echo >> docs/.configuration.head
	cat docs/.configuration.head docs/configuration-table.md > docs/configuration.md && rm docs/.configuration.head
	$(PY) docs/gen_cli_reference.py > docs/cli.md

## bench: run the benchmarks and print their tables
bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache test-artifacts src/watchkeeper/trust/*.so src/watchkeeper/signals/*.so
