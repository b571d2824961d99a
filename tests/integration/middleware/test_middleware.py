"""The middleware stack: request ids, body limit, errors, CORS, compression, trusted hosts."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from authapi.app import create_app
from authapi.config import Settings
from tests.support import client_for

pytestmark = pytest.mark.integration


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert uuid.UUID(response.headers["x-request-id"])


@pytest.mark.parametrize("bad", ["", "has space", "x" * 200, "<script>", "a\tb"])
async def test_unsafe_incoming_request_ids_are_replaced(
    client: httpx.AsyncClient, bad: str
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert uuid.UUID(response.headers["x-request-id"])


async def test_errors_carry_the_request_id_in_header_and_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "req-42"})

    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": "urn:authapi:problem:not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No resource lives at this path.",
        "code": "not_found",
        "request_id": "req-42",
    }


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("streamed", [False, True])
async def test_bodies_over_the_limit_are_refused(client: httpx.AsyncClient, streamed: bool) -> None:
    big = b'{"email": "a@example.com", "password": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks():  # type: ignore[no-untyped-def]
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    content = chunks() if streamed else big
    response = await client.post(
        "/api/auth/login", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert response.headers["x-request-id"]


async def test_large_responses_are_compressed(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


async def test_cors_only_when_origins_are_configured(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    without = await client.options("/api/auth/login", headers=preflight)
    assert "access-control-allow-origin" not in without.headers

    app: FastAPI = create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}))
    async with client_for(app) as cors_client:
        allowed = await cors_client.options("/api/auth/login", headers=preflight)
        denied = await cors_client.options(
            "/api/auth/login", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in denied.headers


async def test_trusted_hosts_refuse_other_host_headers(settings: Settings) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"trusted_hosts": ["auth.example"]}))
    async with client_for(app) as trusted_client:
        refused = await trusted_client.get("/health", headers={"Host": "evil.example"})
        allowed = await trusted_client.get("/health", headers={"Host": "auth.example"})
    assert refused.status_code == 400
    assert allowed.status_code == 200
