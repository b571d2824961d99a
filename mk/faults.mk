# Fault tests: PgBouncer in transaction-pooling mode stands in for RDS Proxy's multiplexing, and
# the integration and Lambda suites run a second time through it (tests/support/pgbouncer.py).
# Included by the main Makefile, which defines SHELL, BIN (.venv/bin) and STAMP.

# Debian installs pgbouncer in /usr/sbin, which is not on a regular user's PATH
SBIN_PATH := $$PATH:/usr/sbin:/usr/local/sbin
PGBOUNCER ?= pgbouncer

.PHONY: pgbouncer-install test-pgbouncer

# Idempotent, and cheap when there is nothing to do: apt-get runs only when no pgbouncer is found
# (with sudo only when not root). No stamp file: the check itself is a stat, and never stale.
# Exits 1, saying why, where it cannot install (no apt-get, no sudo, apt-get failed).
define install_pgbouncer
if PATH="$(SBIN_PATH)" command -v $(PGBOUNCER) >/dev/null; then exit 0; fi; \
if ! command -v apt-get >/dev/null; then \
	echo "pgbouncer-install: no apt-get on this machine: install PgBouncer with its package manager" >&2; \
	exit 1; \
fi; \
sudo=""; \
if [ "$$(id -u)" != 0 ]; then \
	if ! command -v sudo >/dev/null; then \
		echo "pgbouncer-install: apt-get needs root, and there is no sudo" >&2; exit 1; \
	fi; \
	sudo=sudo; \
fi; \
echo "installing pgbouncer with apt-get"; \
$$sudo apt-get update -qq && \
$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null || { \
	echo "pgbouncer-install: apt-get install pgbouncer failed" >&2; exit 1; }; \
PATH="$(SBIN_PATH)" command -v $(PGBOUNCER) >/dev/null || { \
	echo "pgbouncer-install: apt-get ran, and still no $(PGBOUNCER)" >&2; exit 1; }
endef

pgbouncer-install:  ## install PgBouncer (apt-get, sudo unless root) unless present
	@$(install_pgbouncer)

# The tier decides with devtools.tiers: without PgBouncer it is skipped, saying why, unless
# AUTHAPI_REQUIRE_ALL_TIERS=1 (.ci/run), where the missing tool fails it.
test-pgbouncer: $(STAMP)  ## integration and Lambda tests again, through PgBouncer (skipped without it)
	@( $(install_pgbouncer) ) || true
	@pgbouncer=$$($(BIN)/python -m devtools.tiers require $(PGBOUNCER) --tier "make test-pgbouncer" \
		--reason "make pgbouncer-install needs apt-get; or install it yourself") || exit 1; \
	if [ -n "$$pgbouncer" ]; then \
		AUTHAPI_TEST_VIA_PGBOUNCER=1 $(BIN)/pytest -q tests/integration tests/aws_lambda; \
	fi
