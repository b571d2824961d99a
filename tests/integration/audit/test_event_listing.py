"""GET /api/v1/auth/me/events (issue 17): a user's own security history, and nobody else's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest

from tests.support.accounts import Account, register
from tests.support.admin import ADMIN, make_admin
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, session_schema_revision
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import START

pytestmark = pytest.mark.integration

EVENTS = "/api/v1/auth/me/events"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_step_up_seconds=300) as client:
        yield client


@pytest.mark.head_schema
async def test_a_user_sees_their_own_events_only_and_not_which_admin_acted(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    admin = await make_admin(api, clock, test_database)
    ada, bob = await register(api), await register(api)
    for action in ("disable", "enable"):
        clock.advance(1)
        assert (
            await api.post(f"{ADMIN}/users/{ada.user_id}/{action}", headers=admin.auth)
        ).status == 204
    assert (await api.post(f"{ADMIN}/users/{bob.user_id}/logout", headers=admin.auth)).status == 204
    # an event of Ada's with no admin in it, written straight into the trail
    own = uuid.uuid4()
    await test_database.execute(
        "INSERT INTO audit_events (id, occurred_at, type, user_id, actor_kind, actor_id) "
        "VALUES ($1, $2, 'login.succeeded', $3, 'user', $3)",
        own,
        START,
        uuid.UUID(ada.user_id),
    )
    ada_auth = await _signed_in_again(api, ada)

    first = await api.get(f"{EVENTS}?limit=2", headers=ada_auth)
    assert first.status == 200, first.body
    assert len(first.body["events"]) == 2
    assert first.body["next_cursor"]
    rest = await api.get(
        f"{EVENTS}?limit=100&cursor={quote(first.body['next_cursor'])}", headers=ada_auth
    )
    listed = first.body["events"] + rest.body["events"]
    assert rest.body["next_cursor"] is None
    assert {event["user_id"] for event in listed} == {ada.user_id}
    by_type = {event["type"]: event for event in listed}
    assert {"admin.user_disabled", "admin.user_enabled", "login.succeeded"} <= set(by_type)
    assert "admin.user_logged_out" not in by_type  # Bob's
    assert by_type["admin.user_enabled"]["actor"] == {"kind": "admin", "id": None}
    # nor where from: the operator's address, browser and request are theirs
    enabled = by_type["admin.user_enabled"]
    assert (enabled["ip"], enabled["user_agent"], enabled["request_id"]) == (None, None, None)
    assert by_type["login.succeeded"]["actor"] == {"kind": "user", "id": ada.user_id}
    times = [event["occurred_at"] for event in listed]
    assert times == sorted(times, reverse=True)

    only = await api.get(f"{EVENTS}?type=admin.user_disabled", headers=ada_auth)
    assert [event["type"] for event in only.body["events"]] == ["admin.user_disabled"]
    theirs = await api.get(EVENTS, headers=await _signed_in_again(api, bob))
    assert {event["user_id"] for event in theirs.body["events"]} == {bob.user_id}
    assert "admin.user_disabled" not in {event["type"] for event in theirs.body["events"]}


async def test_the_history_needs_a_token_and_answers_on_either_schema(api: ApiClient) -> None:
    missing = await api.get(EVENTS)
    assert (missing.status, missing.code) == (401, "not_authenticated")
    user = await register(api)
    reply = await api.get(EVENTS, headers=user.auth)
    assert reply.status == 200, reply.body
    assert all(event["user_id"] == user.user_id for event in reply.body["events"])
    if session_schema_revision() != "head":
        # before migration 0012 there is no trail: an empty page, not a 500
        assert reply.body == {"events": [], "next_cursor": None}
    bad = await api.get(f"{EVENTS}?cursor=%25%25", headers=user.auth)
    assert (bad.status, bad.code) == (400, "invalid_cursor")


async def _signed_in_again(api: ApiClient, account: Account) -> dict[str, str]:
    """A new session's bearer header (the admin's actions ended the account's sessions)."""
    reply = await api.post("/api/v1/auth/login", json=account.credentials)
    assert reply.status == 200, reply.body
    return {"Authorization": f"Bearer {reply.body['access_token']}"}
