"""The two-tenant isolation suite (issue 17), accounts and sessions: the same email registered in
two tenants is two accounts, and nothing of one (password, access token, refresh token, session,
events) works or shows at the other.

Each test runs once per direction: the default tenant (root paths) against tenant X
(`/t/X/...`), X against the default, and X against Y (two tenants that are not the default).
Tenant A's account is the one attacked from tenant B, where the same email has another account
with another password. See docs/tenancy.md, "The isolation suite".
"""

from __future__ import annotations

import uuid
from base64 import b64encode
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from tests.support.accounts import unique_email
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    OAUTH_SETTINGS,
    PUBLIC_CLIENT,
)
from tests.support.problems import assert_problem
from tests.support.tenancy import (
    DIRECTIONS,
    V1,
    Twin,
    World,
    direction_id,
    make_twin,
    register_in,
    same_answer,
    two_tenant_world,
)

if TYPE_CHECKING:
    from authapi.config import Settings
    from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

OAUTH = "/api/v1/oauth"


@pytest.fixture(scope="module")
async def world(settings: Settings, test_database: ScratchDatabase) -> AsyncIterator[World]:
    async with two_tenant_world(settings, test_database, **OAUTH_SETTINGS) as world:
        yield world


@pytest.fixture(params=DIRECTIONS, ids=direction_id)
async def twin(request: pytest.FixtureRequest, world: World) -> Twin:
    return await make_twin(world, request.param)


async def test_the_same_email_is_two_accounts_each_with_its_own_password(
    world: World, twin: Twin
) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    assert twin.a.user_id != twin.b.user_id
    assert (await a.get(f"{V1}/me", headers=twin.a.auth)).body["id"] == twin.a.user_id
    assert (await b.get(f"{V1}/me", headers=twin.b.auth)).body["id"] == twin.b.user_id

    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200
    assert (await b.post(f"{V1}/login", json=twin.b.credentials)).status == 200
    # A's password at B is answered exactly as a wrong password there
    wrong = await b.post(f"{V1}/login", json={**twin.b.credentials, "password": "not it, 12345"})
    assert_problem(wrong, 401, "invalid_credentials")
    same_answer(await b.post(f"{V1}/login", json=twin.a.credentials), wrong)
    assert (await a.post(f"{V1}/login", json=twin.b.credentials)).code == "invalid_credentials"

    # and so at the OAuth password grant
    grant = {"grant_type": "password", "client_id": PUBLIC_CLIENT, "username": twin.a.email}
    assert (
        await a.post(f"{OAUTH}/token", data={**grant, "password": twin.a.password})
    ).status == 200
    wrong = await b.post(f"{OAUTH}/token", data={**grant, "password": "not it, 12345"})
    assert (wrong.status, wrong.body["code"]) == (400, "invalid_credentials"), wrong
    same_answer(await b.post(f"{OAUTH}/token", data={**grant, "password": twin.a.password}), wrong)


async def test_an_access_token_of_a_is_refused_at_every_authenticated_route_of_b(
    world: World, twin: Twin
) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    stranger = twin.a.auth
    password = {"password": twin.a.password}
    for method, path, body in (
        ("GET", f"{V1}/me", None),
        ("GET", f"{V1}/me/events", None),
        ("GET", f"{V1}/sessions", None),
        ("DELETE", f"{V1}/sessions/{twin.a.session_id}", None),
        ("DELETE", f"{V1}/sessions/{twin.b.session_id}", None),
        ("POST", f"{V1}/logout", None),
        (
            "POST",
            f"{V1}/password/change",
            {"current_password": twin.a.password, "new_password": "x" * 20},
        ),
        ("POST", f"{V1}/email/change", {"new_email": unique_email(), **password}),
        ("POST", f"{V1}/me/delete", password),
        ("POST", f"{V1}/mfa/totp", password),
        ("POST", f"{V1}/mfa/totp/verify", {"code": "123456"}),
        ("POST", f"{V1}/mfa/step-up", {"code": "123456"}),
        ("POST", f"{V1}/mfa/recovery-codes", {"code": "123456"}),
        ("POST", f"{V1}/mfa/disable", {"code": "123456"}),
        ("POST", "/api/v1/admin/token", {"code": "123456"}),
    ):
        reply = await b.request(method, path, json=body, headers=stranger)
        assert (reply.status, reply.code) == (401, "invalid_token"), (method, path, reply)
    # none of that touched A's account: its token, session and password still work at A
    assert (await a.get(f"{V1}/me", headers=stranger)).status == 200
    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200
    # introspection (a resource server's question) at B: inactive; at A: active
    basic = {
        "Authorization": "Basic "
        + b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
    }
    token = {"token": twin.a.access_token}
    at_b = await b.post(f"{OAUTH}/introspect", data=token, headers=basic)
    assert (at_b.status, at_b.body) == (200, {"active": False}), at_b
    at_a = await a.post(f"{OAUTH}/introspect", data=token, headers=basic)
    assert (at_a.status, at_a.body["active"]) == (200, True), at_a


async def test_a_refresh_token_of_a_is_refused_at_b_and_still_valid_at_a(
    world: World, twin: Twin
) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    unknown = await b.post(f"{V1}/refresh-token", json={"refresh_token": "x" * 43})
    assert_problem(unknown, 401, "invalid_refresh_token")
    same_answer(
        await b.post(f"{V1}/refresh-token", json={"refresh_token": twin.a.refresh_token}), unknown
    )
    grant = {"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT}
    refused = await b.post(f"{OAUTH}/token", data={**grant, "refresh_token": twin.a.refresh_token})
    assert (refused.status, refused.body["error"]) == (400, "invalid_grant"), refused
    # RFC 7009: a revocation answers 200 whatever the token; at B it must not end A's session
    revoked = await b.post(
        f"{OAUTH}/revoke", data={"token": twin.a.refresh_token, "client_id": PUBLIC_CLIENT}
    )
    assert revoked.status == 200, revoked

    # refused, not spent or taken as reuse: A's session refreshes at A, and its successor too
    refreshed = await a.post(f"{V1}/refresh-token", json={"refresh_token": twin.a.refresh_token})
    assert refreshed.status == 200, refreshed
    # A's token is spent now: at B still an unknown one, and no reuse detection ends A's session
    spent = {"refresh_token": twin.a.refresh_token}
    same_answer(await b.post(f"{V1}/refresh-token", json=spent), unknown)
    assert (await b.post(f"{OAUTH}/token", data={**grant, **spent})).body[
        "error"
    ] == "invalid_grant"
    again = await a.post(
        f"{V1}/refresh-token", json={"refresh_token": refreshed.body["refresh_token"]}
    )
    assert again.status == 200, again
    assert (await a.get(f"{V1}/me", headers=_bearer(again.body["access_token"]))).status == 200


async def test_sessions_of_a_are_never_listed_nor_revoked_at_b(world: World, twin: Twin) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    login = await a.post(f"{V1}/login", json=twin.a.credentials)  # a second session of A's
    a_sessions = {
        s["id"] for s in (await a.get(f"{V1}/sessions", headers=twin.a.auth)).body["sessions"]
    }
    assert len(a_sessions) == 2
    listed = await b.get(f"{V1}/sessions", headers=twin.b.auth)
    assert [s["id"] for s in listed.body["sessions"]] == [str(twin.b.session_id)]

    for session_id in a_sessions:
        ended = await b.request("DELETE", f"{V1}/sessions/{session_id}", headers=twin.b.auth)
        assert_problem(ended, 404, "session_not_found")
    assert (await a.get(f"{V1}/me", headers=twin.a.auth)).status == 200
    refresh = {"refresh_token": login.body["refresh_token"]}
    assert (await a.post(f"{V1}/refresh-token", json=refresh)).status == 200


async def test_events_of_a_never_show_at_b(world: World, twin: Twin) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    await a.post(f"{V1}/login", json={**twin.a.credentials, "password": "not it, 12345"})
    change = {"current_password": twin.a.password, "new_password": f"{twin.a.password}, again"}
    assert (await a.post(f"{V1}/password/change", json=change, headers=twin.a.auth)).status == 204
    a_events = (await a.get(f"{V1}/me/events", headers=twin.a.auth)).body["events"]
    assert {"login.failed", "password.changed"} <= {e["type"] for e in a_events}

    b_events = (await b.get(f"{V1}/me/events", headers=twin.b.auth)).body["events"]
    assert b_events, "B's own registration is in its history"
    assert not {e["id"] for e in a_events} & {e["id"] for e in b_events}
    assert not {"login.failed", "password.changed"} & {e["type"] for e in b_events}


async def test_a_password_change_at_b_leaves_a_s_password(world: World, twin: Twin) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    # A's password is not B's current one; B's own change applies to B's account alone
    wrong = {"current_password": twin.a.password, "new_password": "a brand new passphrase 42"}
    refused = await b.post(f"{V1}/password/change", json=wrong, headers=twin.b.auth)
    assert (refused.status, refused.code) == (403, "wrong_password")
    change = {**wrong, "current_password": twin.b.password}
    assert (await b.post(f"{V1}/password/change", json=change, headers=twin.b.auth)).status == 204
    new_login = {"email": twin.b.email, "password": change["new_password"]}
    assert (await b.post(f"{V1}/login", json=new_login)).status == 200
    assert (await a.post(f"{V1}/login", json=new_login)).code == "invalid_credentials"
    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200
    # a password change ends the account's other sessions: B's, never A's
    assert (await a.get(f"{V1}/me", headers=twin.a.auth)).status == 200


async def test_deleting_b_s_account_leaves_a_s_intact(world: World, twin: Twin) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    # A's password is refused as B's own confirmation, then B's deletes B's account
    refused = await b.post(
        f"{V1}/me/delete", json={"password": twin.a.password}, headers=twin.b.auth
    )
    assert (refused.status, refused.code) == (403, "wrong_password")
    gone = await b.post(f"{V1}/me/delete", json={"password": twin.b.password}, headers=twin.b.auth)
    assert gone.status == 204, gone
    assert (await b.post(f"{V1}/login", json=twin.b.credentials)).code == "invalid_credentials"

    me = await a.get(f"{V1}/me", headers=twin.a.auth)
    assert (me.status, me.body["id"]) == (200, twin.a.user_id)
    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200
    refresh = {"refresh_token": twin.a.refresh_token}
    assert (await a.post(f"{V1}/refresh-token", json=refresh)).status == 200
    # the email is free again at B alone: registering it there makes a third account
    again = await register_in(b, twin.b.email, twin.b.password)
    assert uuid.UUID(again.user_id) not in {uuid.UUID(twin.a.user_id), uuid.UUID(twin.b.user_id)}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
