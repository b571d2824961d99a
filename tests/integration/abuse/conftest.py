"""Abuse tests run apps with their own limits: every test here sets what it tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from authapi.app import create_app
from authapi.config import Settings
from tests.support import ClientWith, client_for


@pytest.fixture
def client_with(settings: Settings) -> ClientWith:
    """A client of an app whose settings are the session's, changed by the keyword arguments."""

    @asynccontextmanager
    async def make(**overrides: object) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings.model_copy(update=overrides))
        try:
            async with client_for(app) as client:
                yield client
        finally:
            await app.state.resources.database.dispose()

    return make
