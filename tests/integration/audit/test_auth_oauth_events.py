"""The OAuth endpoints' audit rows (issue 17): the password grant signs in as login does, and
RFC 7009 revocation ends a session as the sessions API does, each naming the client."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest

from tests.support.accounts import STRONG_PASSWORD, register
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith, Reply, unique_client_ip
from tests.support.oauth import OAUTH_SETTINGS, PUBLIC_CLIENT, REVOKE, TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

USER_AGENT = "AuditTest/1.0 (oauth)"


async def _events(database: ScratchDatabase, reply: Reply) -> list[dict[str, Any]]:
    rows = await database.fetch(
        "SELECT * FROM audit_events WHERE request_id = $1", reply.headers["x-request-id"]
    )
    return [{**row, "details": json.loads(row["details"])} for row in rows]


async def test_the_password_grant_and_revocation_are_audited_with_their_client(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    address = unique_client_ip()
    async with client_with(client_ip=address, **OAUTH_SETTINGS) as api:
        account = await register(api)
        grant = {
            "grant_type": "password",
            "username": account.email,
            "password": STRONG_PASSWORD,
            "client_id": PUBLIC_CLIENT,
        }
        signed_in = await api.post(TOKEN, data=grant, headers={"User-Agent": USER_AGENT})
        assert signed_in.status == 200
        wrong = await api.post(TOKEN, data={**grant, "password": "not the password"})
        assert wrong.status == 400
        revoke = {"token": signed_in.body["refresh_token"], "client_id": PUBLIC_CLIENT}
        revoked = await api.post(REVOKE, data=revoke, headers={"User-Agent": USER_AGENT})
        assert revoked.status == 200
        # revoked already: RFC 7009 answers the same, and nothing more is recorded
        again = await api.post(REVOKE, data=revoke)
        assert again.status == 200

    user_id = uuid.UUID(account.user_id)
    sid = uuid.UUID(
        jwt.decode(signed_in.body["access_token"], options={"verify_signature": False})["sid"]
    )
    [login] = await _events(test_database, signed_in)
    assert (login["type"], login["user_id"], login["session_id"]) == (
        "login.succeeded",
        user_id,
        sid,
    )
    assert (login["client_id"], login["ip"], login["user_agent"]) == (
        PUBLIC_CLIENT,
        address,
        USER_AGENT,
    )
    assert login["details"] == {"method": "password", "amr": ["pwd"], "new_device": True}
    [failed] = await _events(test_database, wrong)
    assert (failed["type"], failed["client_id"]) == ("login.failed", PUBLIC_CLIENT)
    assert failed["details"] == {"reason": "wrong_password"}
    [ended] = await _events(test_database, revoked)
    assert (ended["type"], ended["user_id"], ended["actor_kind"]) == (
        "session.revoked",
        user_id,
        "user",
    )
    assert (ended["session_id"], ended["client_id"]) == (sid, PUBLIC_CLIENT)
    assert ended["details"] == {"reason": "oauth_revoke"}
    assert await _events(test_database, again) == []
    recorded = json.dumps([login, failed, ended], default=str)
    for secret in (
        STRONG_PASSWORD,
        "not the password",
        account.email,
        signed_in.body["access_token"],
        signed_in.body["refresh_token"],
    ):
        assert secret not in recorded
