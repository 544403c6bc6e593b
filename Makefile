# oms-pipeline: every target sets up .venv first, so a fresh machine needs nothing else.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# This machine disables bytecode writing; compiling at install time halves import time.
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo test test-fast bench bench-venv lint typecheck format setup clean

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

# Two workers, a test file each at a time (module fixtures stay in one process): much of the
# suite waits on Prefect servers, dbt and emulators, so two run in about half the time.
test: setup
	$(BIN)/pytest -n 2 --dist loadfile

# Quick feedback (under 2 minutes): pure forecasting, the landing gate, connectors on recorded pages.
test-fast: setup
	$(BIN)/pytest -m fast -q

# Benchmarks (minutes each on the large sandbox; results in bench/results/*.json).
bench: setup bench-venv
	$(BIN)/python -m bench                  # file landing vs DuckDB's readers (demo scale)
	$(BIN)/python -m bench.connectors       # Shopify API backfill vs read_json
	$(BIN)/python -m bench.amazon           # Amazon 2-year backfill, Orders API vs reports (realistic limits, emulated time)
	$(BIN)/python -m bench.woocommerce      # WooCommerce backfill over OAuth vs the same requests fetched only
	$(BIN)/python -m bench.dbt_build        # full and hourly dbt build (large)
	$(BIN)/python -m bench.hourly_flow      # the hourly Prefect flow end to end by stage (large)
	$(BIN)/python -m bench.forecast         # ours vs statsforecast AutoETS/Croston (large)
	$(BIN)/python -m bench.replenishment    # inventory simulation vs days-of-cover rule (large)
	$(BIN)/python -m bench.edges            # peak memory of a 200 MB order file; a trickling API vs its deadline

# statsforecast pins pandas below 3, so it lives in its own virtualenv, used only by bench.forecast.
bench-venv: .venv-bench/.installed
.venv-bench/.installed: setup
	@test -x .venv-bench/bin/python || $(PY) -m venv .venv-bench
	@if [ -x $(BIN)/uv ]; then $(BIN)/uv pip install -q --python .venv-bench/bin/python statsforecast polars pyarrow matplotlib; \
	 else .venv-bench/bin/pip install -q statsforecast polars pyarrow matplotlib; fi
	@touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over flows/, connectors/ and forecasting/ (the files list is in pyproject.toml).
typecheck: setup
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf data out .prefect dbt_project/target dbt_project/logs
