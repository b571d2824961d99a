"""Logs: one JSON line per record, request id on each, secrets never written."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.support.accounts import register
from tests.support.http import ApiClient, ClientWith
from tests.support.logs import json_lines
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    INTROSPECT,
    OAUTH_SETTINGS,
    PUBLIC_CLIENT,
    REVOKE,
    TOKEN,
)

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


async def test_the_oauth_flows_never_log_passwords_tokens_or_client_secrets(
    client_with: ClientWith, capsys: pytest.CaptureFixture[str]
) -> None:
    password = "another secret passphrase 57"
    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
    wrong = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:cs_{'w' * 43}".encode()).decode()
    async with client_with(**OAUTH_SETTINGS) as api:
        account = await register(api, password=password)
        capsys.readouterr()
        grant = {"grant_type": "password", "username": account.email, "client_id": PUBLIC_CLIENT}
        await api.post(TOKEN, data={**grant, "password": "wrong " + password})
        signed_in = (await api.post(TOKEN, data={**grant, "password": password})).body
        refresh = {"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT}
        rotated = (
            await api.post(TOKEN, data={**refresh, "refresh_token": signed_in["refresh_token"]})
        ).body
        await api.post(  # a wrong secret, through Basic: invalid_client
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
            headers={"Authorization": f"Basic {wrong}"},
        )
        await api.post(  # a secret in the body: refused, and not logged either
            TOKEN,
            data={**refresh, "refresh_token": rotated["refresh_token"], "client_secret": password},
        )
        third = (  # makes the first token two generations old
            await api.post(TOKEN, data={**refresh, "refresh_token": rotated["refresh_token"]})
        ).body
        introspected = {"token": rotated["access_token"]}
        await api.post(INTROSPECT, data=introspected, headers={"Authorization": f"Basic {basic}"})
        await api.post(  # reuse: the session is revoked
            TOKEN, data={**refresh, "refresh_token": signed_in["refresh_token"]}
        )
        await api.post(REVOKE, data={"token": rotated["refresh_token"], "client_id": PUBLIC_CLIENT})
        await api.post(REVOKE, data={"token": rotated["access_token"], "client_id": PUBLIC_CLIENT})

    output = capsys.readouterr().out
    lines = json_lines(output)
    assert len([line for line in lines if line.get("message") == "request completed"]) == 10
    messages = {line.get("message") for line in lines}
    assert {"oauth client refused", "refresh token reused; session revoked"} <= messages
    assert "oauth revocation" in messages
    for secret in (
        password,
        CONFIDENTIAL_SECRET,
        basic,
        wrong,
        signed_in["access_token"],
        signed_in["refresh_token"],
        rotated["access_token"],
        rotated["refresh_token"],
        third["access_token"],
        third["refresh_token"],
    ):
        assert secret not in output
