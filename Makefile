# authapi: every command a developer or CI needs. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Before any rule: a prerequisite like $(SAM_STAMP) is expanded when its rule is read.
include mk/aws.mk mk/faults.mk mk/perf.mk mk/quality.mk mk/mail.mk mk/delivery.mk

.PHONY: help install run dev invoke smoke test test-previous-schema lint typecheck clean account-disable account-enable admin-create tenant-create oauth-client oauth-client-remove

help:  ## list the commands
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# Two locks, both written by `make lock` from pyproject.toml: RUNTIME_LOCK is [project]
# dependencies, the one file the Lambda layer (layers/Makefile) and this virtualenv install;
# DEV_LOCK is what the dev extra adds, leaving the runtime lock's packages out, so every pin has
# exactly one home. Both in hash-checking mode and in one pip run: every package is pinned and
# checked, so a dev tool cannot move a runtime version (a dev tool that needs another one is a
# resolution error, not an upgrade). Then authapi itself and the client SDK (sdk/python, editable;
# its one dependency, httpx, is a dev tool here) without dependencies, and pip check:
# a dependency added to pyproject.toml but not locked fails here.
RUNTIME_LOCK := layers/requirements.lock
DEV_LOCK := requirements-dev.lock

$(STAMP): pyproject.toml $(RUNTIME_LOCK) $(DEV_LOCK) sdk/python/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "authapi needs Python >= 3.11 (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes --requirement $(RUNTIME_LOCK) --requirement $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	$(BIN)/python -m pip install --quiet --no-deps --editable sdk/python
	$(BIN)/python -m pip check || { echo "pyproject.toml and the locks disagree: make lock" >&2; exit 1; }
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the app with its dev tools, exactly as locked

# Universal resolutions (every platform and Python >= 3.11 at once: the python3.13 Lambda on
# arm64 and x86_64, a laptop's venv) with the hashes of every file. uv, not pip-compile:
# pip-compile resolves for the Python and platform it runs on, dropping what only another one
# needs. First everything together, so the runtime pins are ones the dev tools accept too (the
# tests run on what the layer ships); then each lock is cut from that resolution. uv keeps the
# pins already locked unless UPGRADE=1. It runs from its own venv: `make lock` works even when
# the locks no longer install.
UV_VERSION := 0.13.9
UV_VENV := .venv-lock
UV_STAMP := $(UV_VENV)/.installed-uv-$(UV_VERSION)
UV_COMPILE = $(UV_VENV)/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
UV_RESOLUTION := $(UV_VENV)/resolution.txt

$(UV_STAMP):
	test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'
	rm -f $(UV_VENV)/.installed*
	touch $@

.PHONY: lock
lock: $(UV_STAMP)  ## re-resolve the locks from pyproject.toml (UPGRADE=1: newest versions in range)
	cat $(RUNTIME_LOCK) $(DEV_LOCK) > $(UV_RESOLUTION) 2>/dev/null || true
	$(UV_COMPILE) --extra dev --output-file $(UV_RESOLUTION)
	$(UV_COMPILE) --constraint $(UV_RESOLUTION) --output-file $(RUNTIME_LOCK)
	$(UV_COMPILE) --extra dev --constraint $(UV_RESOLUTION) --output-file $(DEV_LOCK) \
		$$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/--no-emit-package \1/p' $(RUNTIME_LOCK))

RUN_ARGS ?=
run: $(STAMP)  ## the local cloud on http://127.0.0.1:8000, every function and its stand-ins (RUN_ARGS="--concurrency 8")
	$(BIN)/python -m devtools.local_cloud $(RUN_ARGS)

dev: $(STAMP)  ## uvicorn with auto-reload on http://127.0.0.1:8000 (no Lambda layer in between)
	$(BIN)/python -m devtools.serve --reload

EMAIL ?=
account-disable: $(STAMP)  ## disable an account and end its sessions: make account-disable EMAIL=ada@example.com
	@test -n "$(EMAIL)" || { echo "usage: make account-disable EMAIL=..." >&2; exit 2; }
	$(BIN)/python -m devtools.accounts disable "$(EMAIL)"

account-enable: $(STAMP)  ## enable it again (its old sessions stay ended): make account-enable EMAIL=...
	@test -n "$(EMAIL)" || { echo "usage: make account-enable EMAIL=..." >&2; exit 2; }
	$(BIN)/python -m devtools.accounts enable "$(EMAIL)"

admin-create: $(STAMP)  ## make an account an administrator, creating it (password at a prompt) if missing: make admin-create EMAIL=ada@example.com
	@test -n "$(EMAIL)" || { echo "usage: make admin-create EMAIL=..." >&2; exit 2; }
	$(BIN)/python -m devtools.admins "$(EMAIL)"

TENANT ?=
NAME ?=
tenant-create: $(STAMP)  ## a tenant served at /t/<id>/ and its signing key (local: row + key file; ENV=dev|prod: the key in SSM): make tenant-create TENANT=acme NAME="Acme"
	@test -n "$(TENANT)" || { echo "usage: make tenant-create TENANT=... [NAME=...] [ENV=dev|prod]" >&2; exit 2; }
	$(BIN)/python -m devtools.tenants "$(TENANT)" $(if $(NAME),--name "$(NAME)") $(if $(ENV),--env "$(ENV)")

CLIENT_ID ?=
CONFIDENTIAL ?=
oauth-client: $(STAMP)  ## register an OAuth client, printing a confidential one's secret once: make oauth-client CLIENT_ID=app [CONFIDENTIAL=1] [ENV=dev|prod]
	@test -n "$(CLIENT_ID)" || { echo "usage: make oauth-client CLIENT_ID=... [CONFIDENTIAL=1] [ENV=dev|prod]" >&2; exit 2; }
	$(BIN)/python -m devtools.oauth_clients add "$(CLIENT_ID)" $(if $(CONFIDENTIAL),--confidential) $(if $(ENV),--env "$(ENV)")

oauth-client-remove: $(STAMP)  ## take an OAuth client out of the registry: make oauth-client-remove CLIENT_ID=app [ENV=dev|prod]
	@test -n "$(CLIENT_ID)" || { echo "usage: make oauth-client-remove CLIENT_ID=... [ENV=dev|prod]" >&2; exit 2; }
	$(BIN)/python -m devtools.oauth_clients remove "$(CLIENT_ID)" $(if $(ENV),--env "$(ENV)")

.PHONY: maintenance
maintenance: $(STAMP)  ## one maintenance run (the outbox re-queue, the purges) through its Lambda handler, on the local database
	$(BIN)/python -m devtools.maintenance

# Mail (issue 13): one test message through the outbox, the queue, the mailer and SES's
# stand-in, to the local mailbox of a running `make run` (http://127.0.0.1:8025)
.PHONY: mail-test
mail-test: $(STAMP)  ## send a test message to a registered account: make mail-test EMAIL=ada@example.com
	@test -n "$(EMAIL)" || { echo "usage: make mail-test EMAIL=..." >&2; exit 2; }
	$(BIN)/python -m devtools.mail_test "$(EMAIL)"

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

test: lint typecheck lint-delivery $(SAM_STAMP)  ## everything: lint, types, templates, workflows, all tests, and again through PgBouncer
	@( $(install_chromium) ) || true
	@# before the first pytest run too: tests/faults/test_pgbouncer.py is part of it
	@( $(install_pgbouncer) ) || true
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-previous-schema
	$(MAKE) --no-print-directory test-pgbouncer

# During a deploy the new code starts before its PreTraffic hook has migrated (README: expand,
# then contract), so the integration tests run again on the schema before the newest migration.
# A test of what only the newest migration makes possible says so with @pytest.mark.head_schema.
test-previous-schema: $(STAMP)  ## the integration tests on the schema before the newest migration
	AUTHAPI_TEST_SCHEMA=previous $(BIN)/pytest -q -p no:cacheprovider -m "not head_schema" tests/integration

clean:  ## remove the virtualenvs, caches and local data (including the dev signing and data keys)
	rm -rf $(VENV) .venv-sam .venv-lock .venv-checkov .local .aws-sam .aws-sam-x86_64 template.x86_64.yaml .pytest_cache .mypy_cache .ruff_cache

# The client SDK (issue 15): sdk/python, its own package (authapi-client)
.PHONY: sdk-errors sdk-build
sdk-errors: $(STAMP)  ## regenerate the SDK's error classes from the service's OpenAPI
	$(BIN)/python -m devtools.sdk_errors

sdk-build: $(STAMP)  ## the SDK's wheel and sdist, in sdk/python/dist
	rm -rf sdk/python/dist
	$(BIN)/python -m build --outdir sdk/python/dist sdk/python
