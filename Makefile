# oms-pipeline: every target sets up .venv first, so a fresh machine needs nothing else.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# This machine disables bytecode writing; compiling at install time halves import time.
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo test bench lint format setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then UV=uv; \
	 elif $(BIN)/pip install -q uv >/dev/null 2>&1; then UV=$(BIN)/uv; else UV=; fi; \
	 if [ -n "$$UV" ]; then $$UV pip install -q --python $(BIN)/python -e ".[dev]"; \
	 else $(BIN)/pip install -q -e ".[dev]"; fi
	@touch $(STAMP)

demo: setup
	$(BIN)/oms demo

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf data out .prefect dbt_project/target dbt_project/logs
