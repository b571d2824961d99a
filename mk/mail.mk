# Mail (issue 13): Debian's Chromium and its WebDriver, for the local mailbox's browser test
# (tests/devtools/test_mailbox_page.py drives /usr/bin/chromium with Selenium). Included by the
# main Makefile, which defines SHELL, BIN and STAMP.

.PHONY: chromium-install

# Idempotent and cheap when there is nothing to do, like install_pgbouncer (mk/faults.mk).
# Exits 1, saying why, where it cannot install; the test then skips, or fails under
# AUTHAPI_REQUIRE_ALL_TIERS=1 (devtools/tiers.py).
define install_chromium
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
if ! command -v apt-get >/dev/null; then \
	echo "chromium-install: no apt-get on this machine: install Chromium and its driver yourself" >&2; \
	exit 1; \
fi; \
sudo=""; \
if [ "$$(id -u)" != 0 ]; then \
	if ! command -v sudo >/dev/null; then \
		echo "chromium-install: apt-get needs root, and there is no sudo" >&2; exit 1; \
	fi; \
	sudo=sudo; \
fi; \
echo "installing chromium and chromium-driver with apt-get"; \
$$sudo apt-get update -qq && \
$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null || { \
	echo "chromium-install: apt-get install chromium chromium-driver failed" >&2; exit 1; }
endef

chromium-install:  ## install Debian's Chromium and chromium-driver (apt-get, sudo unless root) unless present
	@$(install_chromium)
