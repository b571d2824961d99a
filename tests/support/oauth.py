"""OAuth clients as an integrator runs them: Authlib's async client (on httpx2), against an app in
process, plus the registry those clients are listed in."""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import FastAPI

from authapi.signing.clients import (
    ClientRegistry,
    OAuthClient,
    hash_client_secret,
    new_client_secret,
)
from authapi.signing.keys import DataKeys
from tests.support.http import ASGI_BASE_URL, unique_client_ip
from tests.support.settings import SESSION_DATA_KEYS

TOKEN = "/api/v1/oauth/token"
REVOKE = "/api/v1/oauth/revoke"
INTROSPECT = "/api/v1/oauth/introspect"
TOKEN_URL = ASGI_BASE_URL + TOKEN
REVOKE_URL = ASGI_BASE_URL + REVOKE
INTROSPECT_URL = ASGI_BASE_URL + INTROSPECT

PUBLIC_CLIENT = "mobile-app"
OTHER_PUBLIC_CLIENT = "tv-app"
CONFIDENTIAL_CLIENT = "resource-server"
CONFIDENTIAL_SECRET = new_client_secret()


def registry_json(data_keys: str = SESSION_DATA_KEYS) -> str:
    """The registry the OAuth tests use: two public clients and a confidential one, its secret
    hashed under the session's data keys, as `make oauth-client` writes it."""
    secret_hash = hash_client_secret(DataKeys.parse(data_keys), CONFIDENTIAL_SECRET)
    return (
        ClientRegistry()
        .with_client(OAuthClient(PUBLIC_CLIENT))
        .with_client(OAuthClient(OTHER_PUBLIC_CLIENT))
        .with_client(ClientRegistry.entry(CONFIDENTIAL_CLIENT, secret_hash=secret_hash))
        .to_json()
    )


# what the OAuth tests' apps run with (on top of the session's settings)
OAUTH_SETTINGS: dict[str, Any] = {"oauth_clients": registry_json(), "oauth_password_grant": True}


def oauth_client(
    app: FastAPI,
    *,
    client_id: str = PUBLIC_CLIENT,
    client_secret: str | None = None,
    client_ip: str | None = None,
    **options: Any,
) -> AsyncOAuth2Client:
    """Authlib's client for the app: a public client sends its id in the body ("none"), a
    confidential one HTTP Basic ("client_secret_basic"), as RFC 8414 advertises."""
    method = "client_secret_basic" if client_secret else "none"
    transport = httpx2.ASGITransport(app=app, client=(client_ip or unique_client_ip(), 123))
    return AsyncOAuth2Client(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        transport=transport,
        base_url=ASGI_BASE_URL,
        **options,
    )
