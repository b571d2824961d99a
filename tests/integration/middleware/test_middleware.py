"""The middleware stack: request ids, body limit, errors, CORS, compression, trusted hosts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.support.http import ApiClient, ClientWith

pytestmark = pytest.mark.integration


async def test_request_id_is_generated_when_absent(client: ApiClient) -> None:
    response = await client.get("/health")
    assert uuid.UUID(response.headers["x-request-id"])


@pytest.mark.parametrize("bad", ["", "has space", "x" * 200, "<script>", "a\tb"])
async def test_unsafe_incoming_request_ids_are_replaced(client: ApiClient, bad: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert uuid.UUID(response.headers["x-request-id"])


async def test_errors_carry_the_request_id_in_header_and_body(client: ApiClient) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "req-42"})

    assert response.status == 404
    assert response.headers["x-request-id"] == "req-42"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.body
    assert body == {
        "type": "urn:authapi:problem:not_found",
        "title": "Not found",
        "status": 404,
        "detail": "No resource lives at this path.",
        "code": "not_found",
        "request_id": "req-42",
    }


async def test_wrong_method_is_a_problem(client: ApiClient) -> None:
    response = await client.get("/api/auth/login")
    assert response.status == 405
    assert response.body["code"] == "method_not_allowed"


@pytest.mark.parametrize("streamed", [False, True])
async def test_bodies_over_the_limit_are_refused(client: ApiClient, streamed: bool) -> None:
    big = b'{"email": "a@example.com", "password": "' + b"x" * (1024 * 1024) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    content = chunks() if streamed else big
    response = await client.post(
        "/api/auth/login", content=content, headers={"content-type": "application/json"}
    )

    assert response.status == 413
    assert response.body["code"] == "payload_too_large"
    assert response.headers["x-request-id"]


async def test_large_responses_are_compressed(client: ApiClient) -> None:
    response = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


async def test_cors_only_when_origins_are_configured(
    client: ApiClient, client_with: ClientWith
) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    without = await client.options("/api/auth/login", headers=preflight)
    assert "access-control-allow-origin" not in without.headers

    async with client_with(allowed_origins=["https://app.example"]) as cors_client:
        allowed = await cors_client.options("/api/auth/login", headers=preflight)
        denied = await cors_client.options(
            "/api/auth/login", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in denied.headers


async def test_trusted_hosts_refuse_other_host_headers(client_with: ClientWith) -> None:
    async with client_with(trusted_hosts=["auth.example"]) as trusted_client:
        refused = await trusted_client.get("/health", headers={"Host": "evil.example"})
        allowed = await trusted_client.get("/health", headers={"Host": "auth.example"})
    assert refused.status == 400
    assert allowed.status == 200
