"""The resource-server kit's tests: each against a service of its own (the real app, its own
clock, the OAuth clients introspection needs). Helpers live in `tests/sdk/kit/service.py`.

Before the SDK's package is merged (or installed), `authapi_client` is a namespace package in
sdk/python/src: put it, and the examples, on the path if they are not importable already.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from authapi.config import Settings

REPO = Path(__file__).resolve().parents[3]
for name, directory in (("authapi_client", "sdk/python/src"), ("resource_server", "examples")):
    if importlib.util.find_spec(name) is None:
        sys.path.insert(0, str(REPO / directory))

from tests.sdk.kit.service import BlockingService, Service  # noqa: E402 (needs the path above)


@pytest.fixture
async def service(settings: Settings, signing_key_pem: str) -> AsyncIterator[Service]:
    """authapi in process on the test's loop, with a clock of its own (the session's key)."""
    async with Service.started(settings, signing_key_pem) as running:
        yield running


@pytest.fixture
def blocking_service(settings: Settings, signing_key_pem: str) -> Iterator[BlockingService]:
    """authapi in process on a loop of its own thread, for the synchronous verifier."""
    with BlockingService.started(settings, signing_key_pem) as running:
        yield running
