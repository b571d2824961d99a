"""The integration tier: the session's app, and apps of a test's own with changed settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from authapi.app import create_app
from authapi.clock import Clock
from authapi.config import Settings
from tests.support.http import ApiClient, ClientWith, serving, unique_client_ip


@pytest.fixture
def client_with(settings: Settings) -> ClientWith:
    """A client of a new app: the session's settings changed by the keyword arguments, a clock
    if given, and an address of its own (no other test's rate-limit counts reach it)."""

    @asynccontextmanager
    async def make(
        *, clock: Clock | None = None, client_ip: str | None = None, **overrides: object
    ) -> AsyncIterator[ApiClient]:
        unknown = sorted(set(overrides) - set(Settings.model_fields))
        if unknown:
            raise TypeError(f"client_with: no setting named {', '.join(unknown)}")
        app = create_app(settings.model_copy(update=overrides), clock=clock)
        async with serving(app, client_ip=client_ip or unique_client_ip()) as client:
            yield client

    return make
