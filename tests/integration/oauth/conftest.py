"""The OAuth tier: one app of the session's settings with OAuth clients and the password grant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from authapi.app import create_app
from authapi.config import Settings
from authapi.resources import app_resources
from tests.support.http import ApiClient, unique_client_ip
from tests.support.oauth import OAUTH_SETTINGS


@pytest.fixture(scope="module")
async def oauth_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=OAUTH_SETTINGS))
    yield app
    await app_resources(app).aclose()


@pytest.fixture
async def api(oauth_app: FastAPI) -> AsyncIterator[ApiClient]:
    """Plain requests to the OAuth app, from an address of their own."""
    async with ApiClient.asgi(oauth_app, client_ip=unique_client_ip()) as client:
        yield client
