# The two commands: `make run` (service with demo data on http://127.0.0.1:8000) and
# `make test` (the whole suite). Everything else is installed into .venv by these targets.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# An optional .env (see .env.example) is read here, so local settings need no exporting.
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: run test install install-dev migrate lint bench bench-ingest bench-ingest-cpu bench-dashboard bench-monitors bench-shipper bench-soak bench-fairness serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

# Development server with DEBUG on and demo data (seeded only into an empty database), and
# the monitors evaluated every minute beside it (manage.py monitors_run --loop).
run: export DEBUG ?= true
run: install
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo --base-url http://$(HOST):$(PORT)
	@# The monitors' loop beside the server (alerts on the demo data within a minute),
	@# stopped when the server stops, however it stops.
	$(BIN)/python manage.py monitors_run --loop & loop=$$!; \
	trap 'kill $$loop 2>/dev/null' EXIT; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks (docs/performance.md): the real service under gunicorn on the local
# PostgreSQL (BENCH_PG, default postgres://postgres@127.0.0.1:5432), beside references.
# The ingestion benchmark needs wrk (apt-get install wrk), installed here when missing.
bench: bench-ingest bench-ingest-cpu bench-dashboard bench-shipper

bench-ingest: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

# CPU a request (Python and the PostgreSQL backend), Flusso against the bare endpoint, in
# one process: the figure that moves least with the machine's load.
bench-ingest-cpu: install-dev
	$(BIN)/python bench/ingest_cpu.py $(BENCH_ARGS)

bench-dashboard: install-dev
	$(BIN)/python bench/dashboard.py $(BENCH_ARGS)

# Evaluating every monitor of 1,000 clients at 1M logs (docs/monitors.md): target under 10 s.
bench-monitors: install-dev
	$(BIN)/python bench/monitors.py $(BENCH_ARGS)

bench-shipper: install-dev
	$(BIN)/python bench/shipper_enqueue.py

# The soak under faults (docs/reliability.md), 10 minutes by default (BENCH_ARGS="--minutes 1"
# for the short one CI runs). It runs its own PostgreSQL 15 in a temporary directory, which
# it kills and restarts, never the machine's; its accounting tests run first.
bench-fairness: install-dev
	$(BIN)/python bench/fairness.py $(BENCH_ARGS)

bench-soak: install-dev
	$(BIN)/python -m pytest -q -p no:cacheprovider bench/tests
	$(BIN)/python bench/soak.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
