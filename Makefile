# authapi: every command a developer or CI needs. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Before any rule: a prerequisite like $(SAM_STAMP) is expanded when its rule is read.
include mk/aws.mk mk/faults.mk mk/perf.mk mk/quality.mk

.PHONY: help install run dev invoke smoke test lint typecheck clean

help:  ## list the commands
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "authapi needs Python >= 3.11 (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the app with its dev tools

run: $(STAMP)  ## the local cloud on http://127.0.0.1:8000: the Lambda handler, SSM and PostgreSQL stand-ins
	$(BIN)/python -m devtools.local_cloud

dev: $(STAMP)  ## uvicorn with auto-reload on http://127.0.0.1:8000 (no Lambda layer in between)
	$(BIN)/python -m devtools.serve --reload

EVENT ?= events/health.json
invoke: $(STAMP)  ## one event through the handler: make invoke EVENT=events/me.json
	$(BIN)/python -m devtools.invoke $(EVENT)

smoke: $(STAMP) build-x86  ## register -> login -> me -> refresh -> logout through the built artifact, python3.13
	$(BIN)/python -m devtools.smoke --build-dir .aws-sam-x86_64/build --python "$(PYTHON313)"

lint: $(STAMP)  ## ruff format check and lint, and the import contracts (layers, no cycles)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)  ## mypy: strict on functions/ and devtools/, typed definitions in tests/
	$(BIN)/mypy

test: lint typecheck $(SAM_STAMP)  ## everything: lint, types, templates, all tests, and again through PgBouncer
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-pgbouncer

clean:  ## remove the virtualenv, caches and local data (including the dev signing key)
	rm -rf $(VENV) .venv-sam .local .aws-sam .aws-sam-x86_64 template.x86_64.yaml .pytest_cache .mypy_cache .ruff_cache
