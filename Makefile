# Every target creates or reuses .venv, so a fresh clone needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# dev and demo use a local Dagster instance of their own (see deploy/dagster-local.yaml).
LOCAL_HOME := $(CURDIR)/.dagster_home

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

$(LOCAL_HOME)/dagster.yaml: deploy/dagster-local.yaml
	@mkdir -p $(LOCAL_HOME)
	cp deploy/dagster-local.yaml $@

dev: $(STAMP) $(LOCAL_HOME)/dagster.yaml
	DAGSTER_HOME=$(LOCAL_HOME) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

migrate: $(STAMP)
	$(BIN)/ysh migrate

# The daily ingestion chain offline: bundled real ANEEL samples served on loopback, local profile (DuckDB and
# a folder under data/demo). Dagster's run log goes to data/demo/dagster.log; the summary to the terminal.
demo: $(STAMP) $(LOCAL_HOME)/dagster.yaml
	@mkdir -p data/demo
	DAGSTER_HOME=$(LOCAL_HOME) YSH_PROFILE=local YSH_SOURCES=bundled YSH_DATA_DIR=$(CURDIR)/data/demo \
		$(BIN)/ysh daily 2> data/demo/dagster.log \
		|| (tail -n 40 data/demo/dagster.log; exit 1)

# Full-size GD load into PostgreSQL ($$YSH_PG_DSN) vs a plain COPY; prints the figures, asserts nothing.
bench-gd-load: $(STAMP)
	$(BIN)/ysh bench gd-load --rows $(or $(ROWS),4700000)
