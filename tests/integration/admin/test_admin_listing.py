"""The admin API's listings (issue 17): accounts by address prefix, creation time and status, and
the audit trail by account, type and actor; keyset pages behind opaque cursors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.accounts import STRONG_PASSWORD, register
from tests.support.admin import ADMIN, Admin, make_admin
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import START

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_step_up_seconds=300) as client:
        yield client


@pytest.fixture
async def admin(api: ApiClient, clock: ManualClock, test_database: ScratchDatabase) -> Admin:
    return await make_admin(api, clock, test_database)


async def _all_pages(api: ApiClient, admin: Admin, path: str, key: str) -> list[list[Any]]:
    pages: list[list[Any]] = []
    cursor: str | None = None
    while True:
        separator = "&" if "?" in path else "?"
        url = path if cursor is None else f"{path}{separator}cursor={quote(cursor)}"
        reply = await api.get(url, headers=admin.auth)
        assert reply.status == 200, reply.body
        pages.append(reply.body[key])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return pages


async def test_users_by_prefix_newest_first_in_pages(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    prefix = f"list-{uuid.uuid4().hex[:8]}"
    emails = []
    for index in range(5):
        email = f"{prefix}-{index}@example.com"
        await register(api, email, STRONG_PASSWORD)
        emails.append(email)
        if index != 2:  # two accounts created in the same instant: the id breaks the tie
            clock.advance(10)
    pages = await _all_pages(api, admin, f"{ADMIN}/users?email={prefix.upper()}&limit=2", "users")
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [user["email"] for page in pages for user in page]
    assert sorted(listed) == sorted(emails)
    assert listed[0] == emails[4]
    assert listed[-1] == emails[0]
    assert all(
        user["status"] == "unverified" and user["role"] == "user" for page in pages for user in page
    )

    # a prefix is a prefix: `_` and `%` are characters, not patterns
    assert (await api.get(f"{ADMIN}/users?email={prefix[:4]}_", headers=admin.auth)).body[
        "users"
    ] == []


async def test_users_by_creation_time_and_status(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    prefix = f"status-{uuid.uuid4().hex[:8]}"
    early = await register(api, f"{prefix}-early@example.com")
    clock.advance(60)
    middle_time = clock.now()
    clock.advance(60)
    late = await register(api, f"{prefix}-late@example.com")
    verified = await register(api, f"{prefix}-verified@example.com")
    await test_database.execute(
        "UPDATE users SET email_verified_at = now() WHERE id = $1", uuid.UUID(verified.user_id)
    )
    assert (
        await api.post(f"{ADMIN}/users/{late.user_id}/disable", headers=admin.auth)
    ).status == 204

    async def emails(query: str) -> set[str]:
        reply = await api.get(f"{ADMIN}/users?email={prefix}&{query}", headers=admin.auth)
        assert reply.status == 200, reply.body
        return {user["email"].split("-")[-1].split("@")[0] for user in reply.body["users"]}

    after = quote(middle_time.isoformat())
    assert await emails(f"created_after={after}") == {"late", "verified"}
    assert await emails(f"created_before={after}") == {"early"}
    assert await emails("status=disabled") == {"late"}
    assert await emails("status=unverified") == {"early"}
    assert await emails("status=active") == {"verified"}
    one = await api.get(f"{ADMIN}/users/{early.user_id}", headers=admin.auth)
    assert one.body["email"] == early.email
    assert one.body["mfa_enabled"] is False


async def test_a_cursor_that_is_not_ours_and_a_limit_past_100_are_refused(
    api: ApiClient, admin: Admin
) -> None:
    for path in (f"{ADMIN}/users", f"{ADMIN}/events"):
        bad = await api.get(f"{path}?cursor=not-a-cursor", headers=admin.auth)
        assert (bad.status, bad.code) == (400, "invalid_cursor"), path
        big = await api.get(f"{path}?limit=101", headers=admin.auth)
        assert (big.status, big.code) == (422, "validation_error"), path
    wrong_status = await api.get(f"{ADMIN}/users?status=gone", headers=admin.auth)
    assert wrong_status.status == 422


async def test_the_audit_trail_by_account_type_and_actor(
    api: ApiClient, clock: ManualClock, admin: Admin
) -> None:
    user = await register(api)
    for action in ("disable", "enable", "logout", "disable"):
        clock.advance(1)
        reply = await api.post(f"{ADMIN}/users/{user.user_id}/{action}", headers=admin.auth)
        assert reply.status == 204, action
    events = f"{ADMIN}/events?user_id={user.user_id}"
    # (the flows' own events, such as a registration's, are left out by type)
    actions = "&type=admin.user_disabled&type=admin.user_enabled&type=admin.user_logged_out"
    pages = await _all_pages(api, admin, f"{events}{actions}&limit=3", "events")
    assert [len(page) for page in pages] == [3, 1]
    listed = [event for page in pages for event in page]
    assert [event["type"] for event in listed] == [
        "admin.user_disabled",
        "admin.user_logged_out",
        "admin.user_enabled",
        "admin.user_disabled",
    ]
    assert all(event["user_id"] == user.user_id for event in listed)
    first = listed[0]
    assert first["actor"] == {"kind": "admin", "id": str(admin.id)}
    assert set(first) >= {"id", "occurred_at", "session_id", "client_id", "ip", "user_agent"}
    assert first["request_id"]

    disabled = await api.get(f"{events}&type=admin.user_disabled", headers=admin.auth)
    assert [event["type"] for event in disabled.body["events"]] == ["admin.user_disabled"] * 2
    both = await api.get(
        f"{events}&type=admin.user_enabled&type=admin.user_logged_out", headers=admin.auth
    )
    assert {event["type"] for event in both.body["events"]} == {
        "admin.user_enabled",
        "admin.user_logged_out",
    }
    by_admin = await api.get(
        f"{ADMIN}/events?actor_kind=admin&actor_id={admin.id}&limit=100", headers=admin.auth
    )
    assert {event["actor"]["id"] for event in by_admin.body["events"]} == {str(admin.id)}
    assert "admin.token_issued" in {event["type"] for event in by_admin.body["events"]}
    later = quote(first["occurred_at"])
    since = await api.get(f"{events}{actions}&since={later}", headers=admin.auth)
    assert [event["id"] for event in since.body["events"]] == [first["id"]]
    before = await api.get(f"{events}&until={later}&type=admin.user_disabled", headers=admin.auth)
    assert [event["id"] for event in before.body["events"]] == [listed[-1]["id"]]
    until = await api.get(
        f"{events}&until={quote('2000-01-01T00:00:00+00:00')}", headers=admin.auth
    )
    assert until.body["events"] == []
