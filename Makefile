# Two commands: `make run` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test bench lint format setup services postgres prometheus chromium screenshots clean

## Create .venv with the locked dependencies (uv is installed with pip when missing).
setup: $(BIN)/oncall-bot

$(UV):
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

$(BIN)/oncall-bot: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	@touch $@

## Start the bot: Socket Mode or HTTP when Slack tokens are set, else the local workspace.
## Dagster (webserver + daemon, data in var/dagster) starts beside it unless DAGSTER_URL is set.
run: setup
	$(BIN)/oncall-bot migrate
	$(BIN)/oncall-bot bootstrap
	$(BIN)/oncall-bot run

## Set up, start what the tests need (PostgreSQL), run the whole suite.
## Bytecode is written (even where the environment says not to): the suite starts ~150 fresh
## interpreters (bots, crash children, servers) and each would otherwise recompile every module.
test: setup services
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

## Servers the tests talk to: PostgreSQL (normally running already; installed and started if not),
## and the Prometheus and Alertmanager binaries the alerting test starts itself.
## Headless Chromium for the browser tests of the web workspace.
services: postgres prometheus chromium

postgres:
	@bash scripts/ensure-postgres.sh

prometheus:
	@bash scripts/ensure-prometheus.sh

chromium:
	@bash scripts/ensure-chromium.sh

## Retake the README's screenshots of the web workspace (docs/screenshots/) with the browser tests.
screenshots: setup chromium
	SCREENSHOTS_DIR=docs/screenshots $(BIN)/pytest tests/browser

## Every benchmark under bench/ (installs wrk, the load generator, when missing).
bench: setup services
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

lint: setup
	$(BIN)/ruff check bot tests bench pipelines
	$(BIN)/ruff format --check bot tests bench pipelines

format: setup
	$(BIN)/ruff format bot tests bench pipelines
	$(BIN)/ruff check --fix bot tests bench pipelines

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
