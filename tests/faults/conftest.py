"""The fault tests cut, stop and starve a server of their own (and AWS stand-ins, from the root)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.db import DedicatedDatabase, dedicated_database


@pytest.fixture(scope="session")
def database() -> Iterator[DedicatedDatabase]:
    """A server only the fault tests use, so cutting its connections disturbs no other test.

    Modules that stop their server override this with one of their own.
    """
    with dedicated_database() as database:
        yield database
