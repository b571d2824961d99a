"""An administrator's reads are on the trail too (issue 17, review): listing accounts, viewing
one, reading the audit trail, each recorded by the statement that reads, with the admin as the
actor and the names of the filters used, never their values (no email, nor its start)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.accounts import register
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
    async with client_with(clock=clock) as client:
        yield client


@pytest.fixture
async def admin(api: ApiClient, clock: ManualClock, test_database: ScratchDatabase) -> Admin:
    return await make_admin(api, clock, test_database)


async def _reads(database: ScratchDatabase, admin: Admin, kind: str) -> list[dict[str, Any]]:
    rows = await database.fetch(
        "SELECT e.user_id, e.actor_kind, e.details, e.request_id, "
        "(SELECT count(*) FROM event_outbox o WHERE o.event_id = e.id) AS queued "
        "FROM audit_events e WHERE e.type = $1 AND e.actor_id = $2 ORDER BY e.occurred_at",
        kind,
        admin.id,
    )
    return [{**dict(row), "details": json.loads(row["details"])} for row in rows]


async def test_listing_users_records_the_filters_names_and_the_page_size_not_the_address(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    prefix = f"read-{uuid.uuid4().hex[:8]}"
    plain = await api.get(f"{ADMIN}/users", headers=admin.auth)
    assert plain.status == 200, plain.body
    clock.advance(1)
    search = (
        f"{ADMIN}/users?email={prefix}&status=unverified&created_before={quote(START.isoformat())}"
    )
    filtered = await api.get(f"{search}&limit=7", headers=admin.auth)
    assert filtered.status == 200, filtered.body
    first, second = await _reads(test_database, admin, "admin.users_listed")
    assert first["details"] == {"filters": [], "limit": 50}
    assert second["details"] == {"filters": ["email", "created_before", "status"], "limit": 7}
    assert (second["user_id"], second["actor_kind"], second["queued"]) == (None, "admin", 1)
    assert second["request_id"]
    # the prefix is an address's start: no column of the row holds it
    row = await test_database.fetchval(
        "SELECT row_to_json(e)::text FROM audit_events e "
        "WHERE type = 'admin.users_listed' AND actor_id = $1 ORDER BY occurred_at DESC LIMIT 1",
        admin.id,
    )
    assert prefix not in row


async def test_viewing_a_user_is_recorded_about_that_user_and_an_unknown_one_is_not(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    viewed = await api.get(f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
    assert viewed.status == 200, viewed.body
    [row] = await _reads(test_database, admin, "admin.user_viewed")
    assert (row["user_id"], row["actor_kind"], row["queued"]) == (
        uuid.UUID(user.user_id),
        "admin",
        1,
    )
    assert row["details"] == {}
    unknown = await api.get(f"{ADMIN}/users/{uuid.uuid4()}", headers=admin.auth)
    assert (unknown.status, unknown.code) == (404, "user_not_found")
    assert len(await _reads(test_database, admin, "admin.user_viewed")) == 1
    # the account's holder sees that an administrator looked, not which one
    own = await api.get("/api/v1/auth/me/events?type=admin.user_viewed", headers=user.auth)
    assert [event["actor"] for event in own.body["events"]] == [{"kind": "admin", "id": None}]


async def test_reading_the_trail_is_recorded_and_not_part_of_the_page_it_reads(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    mine = f"{ADMIN}/events?actor_id={admin.id}&type=admin.events_read&limit=5"
    first = await api.get(mine, headers=admin.auth)
    assert first.status == 200, first.body
    assert first.body["events"] == []  # the statement does not see the row it writes
    clock.advance(1)
    second = await api.get(mine, headers=admin.auth)
    assert [event["type"] for event in second.body["events"]] == ["admin.events_read"]
    reads = await _reads(test_database, admin, "admin.events_read")
    assert [read["details"] for read in reads] == [
        {"filters": ["type", "actor_id"], "limit": 5}
    ] * 2
    assert all(read["user_id"] is None and read["queued"] == 1 for read in reads)
