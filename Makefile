# Two commands: `make demo` and `make test`. Each creates .venv and installs pinned versions first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DAYS ?= 14

.PHONY: demo test install install-dev lint ui bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'

demo: install
	$(BIN)/video-analytics demo --days $(DAYS)

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	VIRTUAL_ENV=$(abspath $(VENV)) DAGSTER_HOME=$$(mktemp -d) $(BIN)/dg check defs
	$(BIN)/pytest -n 2 --dist loadgroup

ui: install
	$(BIN)/video-analytics ui

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) data .dagster_home

.PHONY: test-cluster
# The dagster-celery cluster test (Redis, PostgreSQL, moto S3, two workers; a few minutes): CI runs it.
test-cluster: install-dev
	VIDEO_ANALYTICS_CLUSTER_TESTS=1 $(BIN)/pytest -p no:xdist -m cluster
