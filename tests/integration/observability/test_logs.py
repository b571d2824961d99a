"""Logs: one JSON line per record, request id on each, secrets never written."""

from __future__ import annotations

import logging

import pytest

from tests.support.accounts import register
from tests.support.http import ApiClient
from tests.support.logs import json_lines

pytestmark = pytest.mark.integration


async def test_a_whole_session_never_logs_passwords_or_tokens(
    client: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "a rather secret passphrase 91"
    capsys.readouterr()

    account = await register(client, password=password)
    await client.post(
        "/api/auth/login", json={"email": account.email, "password": "wrong " + password}
    )
    login = (
        await client.post("/api/auth/login", json={"email": account.email, "password": password})
    ).body
    await client.get("/api/auth/me", headers=account.auth)
    rotated = (
        await client.post("/api/auth/refresh-token", json={"refresh_token": account.refresh_token})
    ).body
    await client.post(  # a repeat within the reuse interval: the same successor again
        "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
    )
    third = (  # the successor's own successor makes the first token reuse
        await client.post(
            "/api/auth/refresh-token", json={"refresh_token": rotated["refresh_token"]}
        )
    ).body
    await client.get("/api/v1/auth/sessions", headers=account.auth)
    await client.post(
        "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
    )  # reuse: two generations back, the session is revoked
    await client.post(
        "/api/auth/logout", headers={"Authorization": f"Bearer {login['access_token']}"}
    )
    await client.get("/api/auth/me?access_token=" + login["access_token"], headers=account.auth)

    output = capsys.readouterr().out
    lines = json_lines(output)
    assert len([line for line in lines if line.get("message") == "request completed"]) == 11
    # the revocation path logged, and it is in what was searched for secrets
    assert any(line.get("message") == "refresh token reused; session revoked" for line in lines)
    secrets = [
        password,
        account.access_token,
        account.refresh_token,
        login["access_token"],
        login["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        third["access_token"],
        third["refresh_token"],
    ]
    for secret in secrets:
        assert secret not in output
    # the JWT's signature part alone is a secret too
    assert account.access_token.rsplit(".", 1)[1] not in output


async def test_every_request_line_carries_its_request_id(
    client: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await client.get("/health", headers={"X-Request-ID": "trace-me-123"})

    lines = json_lines(capsys.readouterr().out)
    access = [line for line in lines if line.get("message") == "request completed"]
    assert response.headers["x-request-id"] == "trace-me-123"
    assert access[-1]["request_id"] == "trace-me-123"
    assert access[-1]["path"] == "/health"
    assert access[-1]["status"] == 200
    assert access[-1]["method"] == "GET"
    assert isinstance(access[-1]["duration_ms"], float)
    assert access[-1]["level"] == "INFO"


async def test_secrets_passed_to_a_logger_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    token = "rt_" + "A" * 43
    logging.getLogger("authapi.anywhere").warning(
        "client sent %s with Bearer eyJabcdefgh.eyJabcdefgh.signature",
        token,
        extra={"password": "hunter2hunter2", "headers": {"Cookie": "session=abc"}},
    )
    logging.getLogger("some.library").warning("connecting to postgresql://u:pw-in-url@db/x")

    output = capsys.readouterr().out
    for secret in (token, "hunter2hunter2", "session=abc", "signature", "pw-in-url"):
        assert secret not in output
    assert output.count("[REDACTED]") >= 5
