# Two commands do all of the set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSDEPS := $(VENV)/.system-packages
# Airflow lives in a virtual environment of its own (its pins clash with the project's), as in
# most deployments; its tasks call the project's `lakehouse` command.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
# Two workers, whole modules each: most tests wait on JVM start-up, services and subprocesses,
# so two overlap well even on 2 cores; tests/conftest.py hands out the longest modules first.
# PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?= --numprocesses $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

.PHONY: demo test test-unit bench dist airflow lint format setup clean

demo: setup
	$(BIN)/lakehouse demo

test: setup airflow
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

# What spark-submit ships to a cluster (README: Running on a cluster).
dist: setup
	$(BIN)/python scripts/cluster_bundle.py --out dist

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

setup: $(STAMP) $(SYSDEPS)

airflow: $(AIRFLOW_STAMP)

# requirements-airflow.txt: apache-airflow 3.3.2 + providers-standard and every dependency
# pinned (pip freeze of a clean install), so CI installs the same set every time.
$(AIRFLOW_STAMP): requirements-airflow.txt
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -r requirements-airflow.txt
	touch $@

$(SYSDEPS): scripts/install-system-packages.sh | $(STAMP)
	scripts/install-system-packages.sh
	touch $@

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .lakehouse .pytest_cache build dist bench/results/*.json
