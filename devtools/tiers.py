"""Test tiers that need an installed tool: skipped with the reason, or failed where all must run.

One rule, for pytest and for make alike: a tier whose tool is missing is skipped and says why,
unless AUTHAPI_REQUIRE_ALL_TIERS=1 (CI sets it in .ci/run), where the missing tool fails the run.

In a test or fixture: `pgbouncer = require_tool("pgbouncer", "make pgbouncer-install")`.
In a Makefile recipe, the same decision as an exit status:
    tool=$$(python -m devtools.tiers require pgbouncer --tier "the PgBouncer run" --reason "...")
prints the tool's path (exit 0); when it is missing, prints nothing and the skip on stderr
(exit 0), or the failure on stderr (exit 1) when every tier must run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

REQUIRE_ALL_TIERS = "AUTHAPI_REQUIRE_ALL_TIERS"
# Debian installs daemons such as pgbouncer in /usr/sbin, not on a regular user's PATH
SYSTEM_DIRS = ("/usr/sbin", "/usr/local/sbin")


class TierRequiredError(RuntimeError):
    """A tool is missing where AUTHAPI_REQUIRE_ALL_TIERS=1 forbids skipping its tier."""


def all_tiers_required() -> bool:
    return os.environ.get(REQUIRE_ALL_TIERS, "") not in ("", "0")


def find_tool(name: str) -> str | None:
    """`name` on PATH or in the system directories, else None."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_DIRS])
    return shutil.which(name, path=search)


def locate_tool(name: str, reason: str) -> tuple[str | None, str]:
    """The tool's path (or None, with the skip message); raises TierRequiredError instead of a skip.

    reason: how to get the tool, for the message (`make pgbouncer-install`).
    """
    found = find_tool(name)
    if found is not None:
        return found, ""
    message = f"{name} is not installed ({reason})"
    if all_tiers_required():
        raise TierRequiredError(f"{message}, and {REQUIRE_ALL_TIERS}=1: every tier must run")
    return None, message


def require_tool(name: str, reason: str) -> str:
    """The tool's path; else the calling test skips, saying why (fails if all tiers must run)."""
    import pytest

    try:
        found, message = locate_tool(name, reason)
    except TierRequiredError as error:
        pytest.fail(str(error), pytrace=False)
    if found is None:
        pytest.skip(message)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.tiers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    require = commands.add_parser("require", help="print the tool's path, or skip/fail the tier")
    require.add_argument("tool")
    require.add_argument("--tier", required=True, help="what is skipped, for the message")
    require.add_argument("--reason", required=True, help="how to get the tool")
    args = parser.parse_args(argv)
    try:
        found, message = locate_tool(args.tool, args.reason)
    except TierRequiredError as error:
        print(f"FAILED {args.tier}: {error}", file=sys.stderr)
        return 1
    if found is None:
        print(f"SKIPPED {args.tier}: {message}", file=sys.stderr)
        return 0
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
