"""The SDK suite's session fixtures: one local cloud (tests/sdk/cloud.py) and its mailbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sdk.cloud import Mailbox, start_cloud, warm_up
from tests.support.db import DedicatedDatabase, dedicated_database
from tests.support.local_cloud import LocalCloud


@pytest.fixture(scope="session")
def sdk_database() -> Iterator[DedicatedDatabase]:
    """The cloud's own database server: the outage test stops it."""
    with dedicated_database() as database:
        yield database


@pytest.fixture(scope="session")
def sdk_cloud(sdk_database: DedicatedDatabase) -> Iterator[LocalCloud]:
    cloud = start_cloud(sdk_database)
    warm_up(cloud)
    yield cloud
    cloud.stop()


@pytest.fixture(scope="session")
def mailbox(sdk_cloud: LocalCloud) -> Mailbox:
    return Mailbox(sdk_cloud.wait_for(r"local mailbox: (http://\S+) ").group(1))


@pytest.fixture
def base_url(sdk_cloud: LocalCloud) -> str:
    return sdk_cloud.base_url
