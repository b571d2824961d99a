"""A forged Host header: never reflected into a redirect, refused where hosts are configured."""

from __future__ import annotations

import pytest

from tests.support.accounts import Account
from tests.support.http import ApiClient, ClientWith
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/api/auth/login/", "/api/auth/me/", "/health/"])
async def test_a_trailing_slash_is_no_redirect_to_the_clients_host(
    client: ApiClient, account: Account, path: str
) -> None:
    reply = await client.post(
        path, json=account.credentials, headers={"Host": "evil.example", **account.auth}
    )
    # a 307 to http://evil.example/... would make the client post the credentials there
    assert "location" not in reply.headers
    assert reply.status in (404, 405)
    assert reply.headers["content-type"] == "application/problem+json"


async def test_an_untrusted_host_is_a_problem(client_with: ClientWith) -> None:
    async with client_with(
        trusted_hosts=["auth.example", "*.execute-api.eu-west-3.amazonaws.com"]
    ) as api:
        refused = [
            await api.get("/health", headers={"Host": host})
            for host in (
                "evil.example",
                "auth.example.evil.example",
                "execute-api.eu-west-3.amazonaws.com",
            )
        ]
        allowed = [
            await api.get("/health", headers={"Host": host})
            for host in (
                "auth.example",
                "AUTH.example:443",
                "abc123.execute-api.eu-west-3.amazonaws.com",
            )
        ]
    for reply in refused:
        assert_problem(reply, 400, "invalid_host")
        assert reply.headers["x-request-id"]
    assert [reply.status for reply in allowed] == [200, 200, 200]
