# Fault tests: PgBouncer in transaction-pooling mode stands in for RDS Proxy's multiplexing, and
# the integration and Lambda suites run a second time through it (tests/faults/pgbouncer.py).
# Included by the main Makefile, which defines SHELL, BIN (.venv/bin) and STAMP.

# Debian installs pgbouncer in /usr/sbin, which is not on a regular user's PATH
SBIN_PATH := $$PATH:/usr/sbin:/usr/local/sbin

.PHONY: pgbouncer-install test-pgbouncer

# Idempotent, and cheap when there is nothing to do: apt runs only when no pgbouncer is found
# (with sudo only when not root). No stamp file: the check itself is a stat, and never stale.
pgbouncer-install:  ## install PgBouncer (apt) unless present, for the transaction-pooling run
	@if ! PATH="$(SBIN_PATH)" command -v pgbouncer >/dev/null; then \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing pgbouncer with apt-get"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; \
	fi
	@PATH="$(SBIN_PATH)" command -v pgbouncer >/dev/null || { echo "pgbouncer is missing" >&2; exit 1; }

test-pgbouncer: $(STAMP) pgbouncer-install  ## integration and Lambda tests again, through PgBouncer
	AUTHAPI_TEST_VIA_PGBOUNCER=1 $(BIN)/pytest -q tests/integration tests/aws_lambda
