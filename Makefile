# Every target creates or reuses .venv, so a fresh clone needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# dev, demo and every dagster or ysh command run from here share the root dagster.yaml (SQLite under
# .dagster_home) and the default data folder (data/): the UI shows the demo's runs beside the demo's data.

.PHONY: install test lint format dev migrate demo bench-gd-load

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Offline on the bundled samples unless YSH_SOURCES=live is set (the real ANEEL portal).
dev: $(STAMP)
	YSH_SOURCES=$${YSH_SOURCES:-bundled} $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

migrate: $(STAMP)
	$(BIN)/ysh migrate

# The daily ingestion chain offline: bundled real ANEEL samples served on loopback, local profile (DuckDB and
# a folder under data/). Dagster's run log goes to data/dagster.log; the summary to the terminal.
demo: $(STAMP)
	@mkdir -p data
	YSH_PROFILE=local YSH_SOURCES=bundled $(BIN)/ysh daily 2> data/dagster.log \
		|| (tail -n 40 data/dagster.log; exit 1)

# Full-size GD load into PostgreSQL ($$YSH_PG_DSN) vs a plain COPY; prints the figures, asserts nothing.
bench-gd-load: $(STAMP)
	$(BIN)/ysh bench gd-load --rows $(or $(ROWS),4700000)
