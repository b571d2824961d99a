"""Admin tokens (issue 17): only for admins, only for a second factor given with the request,
15 minutes at most; every admin endpoint refuses everything else, and end-user endpoints refuse
them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import jwt
import pytest
from pydantic import ValidationError

from authapi.config import Settings
from tests.support.accounts import register
from tests.support.admin import ADMIN, admin_token, bearer, grant_role, make_admin, stepped_up
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith, RequestOptions
from tests.support.mfa import START, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

STEP_UP_SECONDS = 300
ANYONE = str(uuid.uuid4())
# every admin-token route, as (method, path): what each must refuse without an admin token
ADMIN_ROUTES = (
    ("GET", f"{ADMIN}/users"),
    ("GET", f"{ADMIN}/users/{ANYONE}"),
    ("POST", f"{ADMIN}/users/{ANYONE}/disable"),
    ("POST", f"{ADMIN}/users/{ANYONE}/enable"),
    ("POST", f"{ADMIN}/users/{ANYONE}/logout"),
    ("DELETE", f"{ADMIN}/users/{ANYONE}"),
    ("POST", f"{ADMIN}/users/{ANYONE}/mfa/reset"),
    ("POST", f"{ADMIN}/users/{ANYONE}/verification/resend"),
    ("GET", f"{ADMIN}/events"),
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_step_up_seconds=STEP_UP_SECONDS) as client:
        yield client


def _sent(body: dict[str, str] | None, headers: dict[str, str] | None = None) -> RequestOptions:
    """A request with this JSON body, or none at all."""
    options = RequestOptions(headers=headers)
    if body is not None:
        options["json"] = body
    return options


async def _issued(test_database: ScratchDatabase, user_id: str) -> list[dict[str, object]]:
    rows = await test_database.fetch(
        "SELECT actor_kind, actor_id, session_id, details FROM audit_events "
        "WHERE type = 'admin.token_issued' AND user_id = $1 ORDER BY occurred_at",
        uuid.UUID(user_id),
    )
    return [dict(row) for row in rows]


async def test_an_admin_token_needs_the_role_and_a_factor(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    # refused before the body is read: with a code or without one, the same answer
    plain = await register(api)
    for body in ({"code": "123456"}, None):
        nobody = await api.post(f"{ADMIN}/token", **_sent(body))
        assert (nobody.status, nobody.code) == (401, "not_authenticated")
        refused = await api.post(f"{ADMIN}/token", **_sent(body, plain.auth))
        assert (refused.status, refused.code) == (403, "admin_role_required")
    await grant_role(test_database, plain.user_id)
    for body in ({"code": "123456"}, None):
        no_factor = await api.post(f"{ADMIN}/token", **_sent(body, plain.auth))
        assert (no_factor.status, no_factor.code) == (403, "mfa_enrolment_required")
    assert await _issued(test_database, plain.user_id) == []


async def test_an_admin_token_needs_a_code_given_now_not_an_earlier_step_up(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    user = await enrolled(api, clock)
    await grant_role(test_database, user.account.user_id)
    # a token whose session gave its factor a moment ago buys nothing without a code of its own
    fresh = await stepped_up(api, clock, user)
    missing = [await api.post(f"{ADMIN}/token", headers=fresh.auth)]  # no body at all
    for body in ({}, {"code": None}, {"recovery_code": ""}):
        missing.append(await api.post(f"{ADMIN}/token", json=body, headers=fresh.auth))
    for reply in missing:
        assert (reply.status, reply.code) == (422, "validation_error"), reply.body
        assert reply.headers["content-type"].startswith("application/problem+json")
    wrong_code = user.code(clock, steps=-3)  # a real code of the authenticator, long gone
    wrong = await api.post(f"{ADMIN}/token", json={"code": wrong_code}, headers=fresh.auth)
    assert (wrong.status, wrong.code) == (401, "invalid_mfa_code")
    assert await _issued(test_database, user.account.user_id) == []

    code = user.code(clock)
    issued = await api.post(f"{ADMIN}/token", json={"code": code}, headers=user.account.auth)
    assert issued.status == 200, issued.body
    assert issued.body["expires_in"] == 900
    assert "refresh_token" not in issued.body
    assert issued.headers["cache-control"] == "no-store"
    claims = jwt.decode(issued.body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "authapi:admin"
    assert claims["token_use"] == "admin"
    assert claims["exp"] - claims["iat"] == 900
    assert "otp" in claims["amr"]
    assert claims["mfa_time"] == int(clock.now().timestamp())
    [row] = await _issued(test_database, user.account.user_id)
    assert (row["actor_kind"], row["actor_id"]) == ("admin", uuid.UUID(user.account.user_id))
    assert row["session_id"] == user.account.session_id
    assert json.loads(str(row["details"])) == {"method": "totp"}

    # the same code again, within its own 30 s: a replay, refused
    replayed = await api.post(f"{ADMIN}/token", json={"code": code}, headers=user.account.auth)
    assert (replayed.status, replayed.code) == (401, "invalid_mfa_code")
    assert len(await _issued(test_database, user.account.user_id)) == 1


async def test_a_recovery_code_gets_one_admin_token(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    user = await enrolled(api, clock)
    await grant_role(test_database, user.account.user_id)
    body = {"recovery_code": user.recovery_codes[0]}
    issued = await api.post(f"{ADMIN}/token", json=body, headers=user.account.auth)
    assert issued.status == 200, issued.body
    claims = jwt.decode(issued.body["access_token"], options={"verify_signature": False})
    assert "recovery_code" in claims["amr"]
    [row] = await _issued(test_database, user.account.user_id)
    assert json.loads(str(row["details"])) == {"method": "recovery_code"}
    spent = await api.post(f"{ADMIN}/token", json=body, headers=user.account.auth)
    assert (spent.status, spent.code) == (401, "invalid_mfa_code")


def test_the_lifetime_setting_cannot_pass_15_minutes(settings: Settings) -> None:
    fields = settings.model_dump()
    assert Settings(**{**fields, "admin_token_ttl_seconds": 900}).admin_token_ttl_seconds == 900
    with pytest.raises(ValidationError, match="admin_token_ttl_seconds"):
        Settings(**{**fields, "admin_token_ttl_seconds": 901})


async def test_every_admin_route_refuses_what_is_not_an_admin_token(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    admin = await make_admin(api, clock, test_database)
    # the admin's own end-user token, with a fresh second factor: a real token, not a credential
    end_user = await stepped_up(api, clock, admin.user)
    for method, path in ADMIN_ROUTES:
        missing = await api.request(method, path)
        assert (missing.status, missing.code) == (401, "not_authenticated"), path
        assert missing.headers["www-authenticate"].startswith("Bearer")
        forged = await api.request(method, path, headers=bearer(admin.token[:-4] + "AAAA"))
        assert (forged.status, forged.code) == (401, "invalid_token"), path
        user_token = await api.request(method, path, headers=end_user.auth)
        assert (user_token.status, user_token.code) == (403, "admin_token_required"), path
        accepted = await api.request(method, path, headers=admin.auth)
        assert accepted.status not in (401, 403), (path, accepted.body)
        assert accepted.status in (200, 404), (path, accepted.body)


async def test_end_user_endpoints_refuse_an_admin_token(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    admin = await make_admin(api, clock, test_database)
    for method, path in (
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/auth/sessions"),
        ("GET", "/api/v1/auth/me/events"),
        ("POST", f"{ADMIN}/token"),  # an admin token buys no other admin token
    ):
        reply = await api.request(method, path, headers=admin.auth)
        assert (reply.status, reply.code) == (401, "invalid_token"), path


async def test_an_admin_token_stops_with_the_role_the_account_or_its_time(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    admin = await make_admin(api, clock, test_database)
    users = f"{ADMIN}/users?limit=1"
    assert (await api.get(users, headers=admin.auth)).status == 200
    await grant_role(test_database, admin.id, "user")
    demoted = await api.get(users, headers=admin.auth)
    assert (demoted.status, demoted.code) == (403, "admin_role_required")
    await grant_role(test_database, admin.id)
    assert (await api.get(users, headers=admin.auth)).status == 200
    clock.advance(900 + 6)  # past its 15 minutes and the clock skew allowed
    expired = await api.get(users, headers=admin.auth)
    assert (expired.status, expired.code) == (401, "invalid_token")

    other = await make_admin(api, clock, test_database)
    await test_database.execute("UPDATE users SET is_active = false WHERE id = $1", other.id)
    disabled = await api.get(users, headers=other.auth)
    assert (disabled.status, disabled.code) == (401, "invalid_token")


async def test_logging_out_the_session_ends_its_admin_token(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    admin = await make_admin(api, clock, test_database)
    account = await stepped_up(api, clock, admin.user)  # another token of the same session
    token = await admin_token(api, clock, admin.user, account)
    assert (await api.post("/api/v1/auth/logout", headers=account.auth)).status == 204
    after = await api.get(f"{ADMIN}/users", headers=bearer(token))
    assert (after.status, after.code) == (401, "invalid_token")


async def test_a_method_the_path_does_not_take_names_every_one_it_does(api: ApiClient) -> None:
    reply = await api.request("PUT", f"{ADMIN}/users/{ANYONE}")
    assert (reply.status, reply.code) == (405, "method_not_allowed")
    assert reply.headers["allow"] == "DELETE, GET"
