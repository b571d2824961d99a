"""The core auth flows' audit rows (issue 17): each written by the statement that makes the
change, with the request's facts, and nothing secret in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from authapi.config import Settings
from tests.support.accounts import STRONG_PASSWORD, Account, register, unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith, Reply, unique_client_ip
from tests.support.mfa import LOGIN, START, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

USER_AGENT = "AuditTest/1.0 (events)"
JSON_API_CLIENT = Settings.model_fields["default_client_id"].default
REFRESH = "/api/v1/auth/refresh-token"
LOGOUT = "/api/v1/auth/logout"
SESSIONS = "/api/v1/auth/sessions"


@pytest.fixture
def address() -> str:
    return unique_client_ip()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(
    client_with: ClientWith, address: str, clock: ManualClock
) -> AsyncIterator[ApiClient]:
    # no reuse interval: a spent token presented again is reuse at once
    async with client_with(
        client_ip=address, clock=clock, refresh_reuse_interval_seconds=0
    ) as client:
        yield client


def _agent(headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"User-Agent": USER_AGENT, **(headers or {})}


async def _events(database: ScratchDatabase, reply: Reply) -> list[dict[str, Any]]:
    """The audit rows the request that answered `reply` wrote (its X-Request-Id), each checked
    to have an outbox row of its own."""
    rows = await database.fetch(
        "SELECT a.*, o.event_id AS queued FROM audit_events a"
        " LEFT JOIN event_outbox o ON o.event_id = a.id WHERE a.request_id = $1 ORDER BY a.type",
        reply.headers["x-request-id"],
    )
    events = [dict(row) for row in rows]
    for event in events:
        assert event.pop("queued") == event["id"], event
        event["details"] = json.loads(event["details"])
    return events


async def _one(database: ScratchDatabase, reply: Reply, *, address: str) -> dict[str, Any]:
    """The one row of a JSON API request (its client: the default one)."""
    [event] = await _events(database, reply)
    assert (event["ip"], event["user_agent"]) == (address, USER_AGENT)
    assert event["client_id"] == JSON_API_CLIENT
    return event


def _assert_no_secret(event: dict[str, Any], *secrets: str) -> None:
    recorded = json.dumps(event, default=str)
    for secret in (STRONG_PASSWORD, *secrets):
        assert secret not in recorded, secret


def _sid(access_token: str) -> uuid.UUID:
    return uuid.UUID(jwt.decode(access_token, options={"verify_signature": False})["sid"])


async def test_registering_records_the_account_and_its_first_session(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    email = unique_email()
    reply = await api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": STRONG_PASSWORD},
        headers=_agent(),
    )
    account = Account.registered(reply, password=STRONG_PASSWORD)
    event = await _one(test_database, reply, address=address)
    user_id = uuid.UUID(account.user_id)
    assert event["type"] == "account.registered"
    assert (event["user_id"], event["actor_kind"], event["actor_id"]) == (user_id, "user", user_id)
    assert event["session_id"] == account.session_id
    assert event["details"] == {"signed_in": True}
    _assert_no_secret(event, email, account.access_token, account.refresh_token)

    # the statement refused (the address is taken): no row for that request
    again = await api.post(
        "/api/v1/auth/register",
        json={"email": email, "password": STRONG_PASSWORD},
        headers=_agent(),
    )
    assert again.status == 409
    assert await _events(test_database, again) == []


async def test_with_verification_required_registering_opens_no_session_and_login_is_refused(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    address = unique_client_ip()
    async with client_with(client_ip=address, require_verified_email=True) as api:
        credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
        reply = await api.post("/api/v1/auth/register", json=credentials, headers=_agent())
        assert reply.status == 201
        refused = await api.post(LOGIN, json=credentials, headers=_agent())
        assert (refused.status, refused.code) == (403, "email_not_verified")
    registered = await _one(test_database, reply, address=address)
    user_id = uuid.UUID(reply.body["user"]["id"])
    assert (registered["type"], registered["user_id"]) == ("account.registered", user_id)
    assert (registered["session_id"], registered["details"]) == (None, {"signed_in": False})
    failed = await _one(test_database, refused, address=address)
    assert (failed["type"], failed["user_id"]) == ("login.failed", user_id)
    assert failed["details"] == {"reason": "email_not_verified"}
    _assert_no_secret(registered, credentials["email"])
    _assert_no_secret(failed, credentials["email"])


async def test_a_login_records_its_session_and_how_it_signed_in(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    reply = await api.post(LOGIN, json=account.credentials, headers=_agent())
    assert reply.status == 200
    event = await _one(test_database, reply, address=address)
    assert event["type"] == "login.succeeded"
    assert (event["user_id"], event["actor_kind"]) == (uuid.UUID(account.user_id), "user")
    assert event["session_id"] == _sid(reply.body["access_token"])
    assert event["details"] == {"method": "password", "amr": ["pwd"], "new_device": True}
    _assert_no_secret(
        event,
        account.email,
        reply.body["access_token"],
        reply.body["refresh_token"],
        reply.body["device_token"],
    )


async def test_failed_logins_say_why_and_never_the_address_tried(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    user_id = uuid.UUID(account.user_id)
    wrong = await api.post(
        LOGIN, json={"email": account.email, "password": "not the password"}, headers=_agent()
    )
    unknown_email = unique_email()
    unknown = await api.post(
        LOGIN, json={"email": unknown_email, "password": STRONG_PASSWORD}, headers=_agent()
    )
    disabled = await register(api)
    await test_database.execute(
        "UPDATE users SET is_active = false WHERE email = $1", disabled.email
    )
    refused = await api.post(LOGIN, json=disabled.credentials, headers=_agent())
    for reply in (wrong, unknown, refused):
        assert (reply.status, reply.code) == (401, "invalid_credentials")
    expected = {
        "wrong_password": (wrong, user_id, account.email),
        "unknown_account": (unknown, None, unknown_email),
        "account_disabled": (refused, uuid.UUID(disabled.user_id), disabled.email),
    }
    for reason, (reply, who, email) in expected.items():
        event = await _one(test_database, reply, address=address)
        assert event["type"] == "login.failed"
        assert (event["user_id"], event["actor_kind"], event["session_id"]) == (who, "user", None)
        assert event["details"] == {"reason": reason}
        _assert_no_secret(event, email, "not the password")


async def test_attempts_refused_with_429_are_not_audited(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    address = unique_client_ip()
    async with client_with(client_ip=address, login_max_failures=2) as api:
        account = await register(api)
        wrong = {"email": account.email, "password": "not the password"}
        await api.post(LOGIN, json=wrong, headers=_agent())
        locking = await api.post(LOGIN, json=wrong, headers=_agent())
        assert locking.status == 401
        # the failure that set the pair's lock says so
        event = await _one(test_database, locking, address=address)
        assert event["details"] == {"reason": "wrong_password", "locked": True}
        throttled = await api.post(LOGIN, json=account.credentials, headers=_agent())
        assert throttled.status == 429
        assert await _events(test_database, throttled) == []
    async with client_with(rate_limit_login=1, rate_limit_window_seconds=3600) as api:
        account = await register(api)
        assert (await api.post(LOGIN, json=account.credentials)).status == 200
        limited = await api.post(LOGIN, json=account.credentials)
        assert limited.status == 429
        assert await _events(test_database, limited) == []


async def test_a_login_from_a_known_device_is_not_a_new_device(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    first = await api.post(LOGIN, json=account.credentials)
    known = {**account.credentials, "device_token": first.body["device_token"]}
    reply = await api.post(LOGIN, json=known, headers=_agent())
    assert reply.status == 200
    event = await _one(test_database, reply, address=address)
    assert (event["type"], event["details"]["new_device"]) == ("login.succeeded", False)


async def test_a_correct_password_of_an_mfa_account_records_the_challenge(
    api: ApiClient, test_database: ScratchDatabase, address: str, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    reply = await api.post(LOGIN, json=user.account.credentials, headers=_agent())
    assert reply.status == 202
    event = await _one(test_database, reply, address=address)
    assert event["type"] == "login.challenged"
    assert (event["user_id"], event["session_id"]) == (uuid.UUID(user.account.user_id), None)
    assert event["details"] == {"method": "password", "amr": ["pwd"]}
    _assert_no_secret(event, user.account.email, reply.body["challenge"])


async def test_logouts_record_the_sessions_they_ended(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    user_id = uuid.UUID(account.user_id)
    second = (await api.post(LOGIN, json=account.credentials)).body
    third = (await api.post(LOGIN, json=account.credentials)).body
    others = await api.post(
        LOGOUT, params={"scope": "others"}, headers=_agent({"Authorization": _bearer(third)})
    )
    local = await api.post(LOGOUT, headers=_agent({"Authorization": _bearer(third)}))
    for reply in (others, local):
        assert reply.status == 204
    event = await _one(test_database, others, address=address)
    assert (event["type"], event["user_id"]) == ("logout", user_id)
    assert event["session_id"] == _sid(third["access_token"])
    assert event["details"]["scope"] == "others"
    ended = {account.session_id, _sid(second["access_token"])}
    assert {uuid.UUID(sid) for sid in event["details"]["session_ids"]} == ended
    event = await _one(test_database, local, address=address)
    assert event["details"] == {"scope": "local", "session_ids": [str(_sid(third["access_token"]))]}
    _assert_no_secret(event, account.email, third["access_token"], third["refresh_token"])
    # a token whose session has ended ends nothing, and records nothing
    again = await api.post(LOGOUT, headers=_agent({"Authorization": _bearer(third)}))
    assert again.status == 401
    assert await _events(test_database, again) == []


async def test_ending_a_session_through_the_sessions_api_records_its_revocation(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    other = (await api.post(LOGIN, json=account.credentials)).body
    target = _sid(other["access_token"])
    reply = await api.request("DELETE", f"{SESSIONS}/{target}", headers=_agent(account.auth))
    assert reply.status == 204
    event = await _one(test_database, reply, address=address)
    assert event["type"] == "session.revoked"
    assert (event["user_id"], event["actor_kind"]) == (uuid.UUID(account.user_id), "user")
    assert event["session_id"] == target
    assert event["details"] == {
        "reason": "ended_by_user",
        "by_session_id": str(account.session_id),
        "session_ids": [str(target)],
    }
    # an id that is not a live session of the caller's: 404, nothing recorded
    missing = await api.request("DELETE", f"{SESSIONS}/{target}", headers=_agent(account.auth))
    assert missing.status == 404
    assert await _events(test_database, missing) == []


async def test_a_reused_refresh_token_records_the_revocation_as_the_service(
    api: ApiClient, test_database: ScratchDatabase, address: str
) -> None:
    account = await register(api)
    rotated = await api.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert rotated.status == 200
    assert await _events(test_database, rotated) == []  # a plain refresh is no security event
    reused = await api.post(
        REFRESH, json={"refresh_token": account.refresh_token}, headers=_agent()
    )
    assert reused.code == "refresh_token_reused"
    event = await _one(test_database, reused, address=address)
    assert event["type"] == "refresh_token.reused"
    assert event["user_id"] == uuid.UUID(account.user_id)
    assert (event["actor_kind"], event["actor_id"]) == ("service", None)
    assert event["session_id"] == account.session_id
    assert event["details"] == {"session_id": str(account.session_id)}
    _assert_no_secret(event, account.email, account.refresh_token, rotated.body["refresh_token"])
    # presented once more, the session is revoked already: nothing more to record
    again = await api.post(REFRESH, json={"refresh_token": account.refresh_token})
    assert again.code == "refresh_token_reused"
    assert await _events(test_database, again) == []


def _bearer(body: dict[str, Any]) -> str:
    return f"Bearer {body['access_token']}"
