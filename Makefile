# Prévisecours — one vocabulary of commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV_BOOT := .uv
UV := $(UV_BOOT)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SYNCED := $(VENV)/.synced-$(UV_VERSION)
# Tools read these; nothing is read from the environment at import time.
export UV_PYTHON_DOWNLOADS := never
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1

.DEFAULT_GOAL := help
.PHONY: help setup lint typecheck test demo bench clean browser serve dashboard postgres screenshots

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(UV_BOOT)
	$(UV_BOOT)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

setup: $(SYNCED) ## Create .venv from the lock file (uv.lock)

lint: setup ## ruff (lint + format check) and the layer contract (import-linter, pyproject.toml)
	$(BIN)/ruff check src tests flows bench scripts
	$(BIN)/ruff format --check src tests flows bench scripts
	$(BIN)/lint-imports

typecheck: setup ## mypy (strict on the core)
	$(BIN)/mypy

test: lint typecheck browser postgres ## Set up, lint, type-check and run the test suite
	$(BIN)/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

screenshots: setup browser ## Refresh the dashboard's screenshots in test-artifacts/ (browser tests)
	PREVISECOURS_SCREENSHOTS=1 $(BIN)/pytest -q tests/e2e

browser: ## Install Debian's chromium for the dashboard's browser tests (when missing)
	command -v chromium || (apt-get update -qq && apt-get install -y -qq chromium)

postgres: ## Install Debian's PostgreSQL for the team-servers test (when missing; else it skips)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	  || echo "PostgreSQL could not be installed: the PostgreSQL server test will be skipped"

# The demo's home: generated data, runs, registry and forecasts stay out of the checkout (git
# status stays clean). `make serve HOME_DIR=.` serves the repository's own home instead.
DEMO_HOME := .demo
HOME_DIR ?= $(DEMO_HOME)

serve: setup ## Prefect server + schedules, MLflow UI and dashboard on 127.0.0.1 (Ctrl-C stops all)
	$(BIN)/previsecours --home $(HOME_DIR) serve

dashboard: setup ## Only the planners' dashboard on http://127.0.0.1:8050 (latest forecast)
	$(BIN)/previsecours --home $(HOME_DIR) dashboard

demo: setup ## Run the whole job end to end on the embedded default (Essonne), in .demo/
	$(BIN)/python -m previsecours.demo --home $(DEMO_HOME)

# bench/bench_*.py import their helpers as benchlib.<module> (bench/benchlib/; python puts the
# script's folder bench/ on the path). Experiments, not run here: PYTHONPATH=bench
# $(BIN)/python bench/experiments/<name>.py
bench: setup browser ## Benchmarks (speed, memory, accuracy vs peers): tables → bench/results/*.md
	$(UV) sync --frozen --project bench/peers --python $(PYTHON)
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove run state (data/, mlruns/, .prefect/, forecasts/, the demo's home) — not the environment
	rm -rf data/raw data/inbox data/quarantine mlruns/* .prefect forecasts logs metrics $(DEMO_HOME)
