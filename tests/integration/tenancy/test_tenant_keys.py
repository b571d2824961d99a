"""The tenant keys hold below the application code (issue 17, migration 0014): the same email
is two accounts in two tenants, a statement of one tenant never reads or changes another's
rows, a row cannot point at another tenant's parent, and the cross-tenant jobs reach every
tenant. Run at the repository level with `current_tenant` set, as the tenant routing sets it
for a request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from authapi.audit.publisher import publish_batch
from authapi.auth.retention import purge_expired_device_tokens
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import request_session, unit_of_work
from authapi.models import AuthSession
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant, tenant_values
from authapi.users.repository import (
    NewUser,
    active_account_address,
    delete_user_by_email,
    set_active,
)
from tests.support.accounts import unique_email
from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
async def other_tenant(test_database: ScratchDatabase) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await test_database.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, now())", tenant_id
    )
    return tenant_id


@pytest.fixture(autouse=True)
def default_tenant_afterwards() -> Iterator[None]:
    token = current_tenant.set(DEFAULT_TENANT)
    yield
    current_tenant.reset(token)


async def _register(database: Database, tenant_id: str, email: str) -> uuid.UUID:
    current_tenant.set(tenant_id)
    user = NewUser(id=uuid.uuid4(), email=email, password_hash="not a hash", created_at=NOW)
    async with request_session(database) as db:
        await db.execute(user.insert())
    return user.id


async def _find(database: Database, tenant_id: str, email: str) -> uuid.UUID | None:
    current_tenant.set(tenant_id)
    async with request_session(database) as db:
        found = await active_account_address(db, email=email)
    return found[0] if found is not None else None


async def test_the_same_email_is_two_accounts_in_two_tenants(
    database: Database, other_tenant: str, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    mine = await _register(database, DEFAULT_TENANT, email)
    theirs = await _register(database, other_tenant, email)
    assert mine != theirs
    assert await _find(database, DEFAULT_TENANT, email) == mine
    assert await _find(database, other_tenant, email) == theirs
    rows = await test_database.fetch("SELECT id, tenant_id FROM users WHERE email = $1", email)
    assert {(row["id"], row["tenant_id"]) for row in rows} == {
        (mine, DEFAULT_TENANT),
        (theirs, other_tenant),
    }
    # within one tenant, still one account per address, refused under the name the API maps
    with pytest.raises(IntegrityError) as refused:
        await _register(database, other_tenant, email)
    assert "uq_users_email" in str(refused.value.orig)


async def test_a_tenants_statements_never_reach_another_tenants_rows(
    database: Database, other_tenant: str, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    mine = await _register(database, DEFAULT_TENANT, email)
    theirs = await _register(database, other_tenant, email)
    assert await _find(database, other_tenant, unique_email()) is None

    current_tenant.set(other_tenant)
    async with request_session(database) as db:
        assert await set_active(db, email=email, active=False, now=NOW) == theirs
        assert await delete_user_by_email(db, email=email)
        assert not await delete_user_by_email(db, email=email)  # theirs is gone; mine unseen
    active = await test_database.fetchval("SELECT is_active FROM users WHERE id = $1", mine)
    assert active is True
    assert await _find(database, DEFAULT_TENANT, email) == mine
    assert await _find(database, other_tenant, email) is None


async def test_a_row_cannot_point_at_another_tenants_account(
    database: Database, other_tenant: str
) -> None:
    mine = await _register(database, DEFAULT_TENANT, unique_email())
    current_tenant.set(other_tenant)
    session = insert(AuthSession).values(
        id=uuid.uuid4(),
        user_id=mine,
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
        **tenant_values(),
    )
    with pytest.raises(IntegrityError) as refused:
        async with request_session(database) as db:
            await db.execute(session)
    assert "fk_auth_sessions_user_id_users" in str(refused.value.orig)


class _Bus:
    def __init__(self) -> None:
        self.entries: list[Mapping[str, Any]] = []

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        self.entries.extend(entries)
        return [None] * len(entries)

    def close(self) -> None:
        pass


async def test_the_publisher_takes_every_tenants_events(
    database: Database, other_tenant: str, test_database: ScratchDatabase
) -> None:
    events = {DEFAULT_TENANT: uuid.uuid4(), other_tenant: uuid.uuid4()}
    for tenant_id, event_id in events.items():
        await test_database.execute(
            "INSERT INTO audit_events (id, tenant_id, occurred_at, type, actor_kind)"
            " VALUES ($1, $2, now(), 'login.succeeded', 'service')",
            event_id,
            tenant_id,
        )
        await test_database.execute(
            "INSERT INTO event_outbox (event_id, tenant_id, created_at) VALUES ($1, $2, now())",
            event_id,
            tenant_id,
        )
    bus = _Bus()
    async with unit_of_work(database) as db:  # the maintenance run's, in the default tenant
        while (await publish_batch(db, bus, source="authapi.test")).found:
            pass
    left = await test_database.fetchval(
        "SELECT count(*) FROM event_outbox WHERE event_id = ANY($1::uuid[])", list(events.values())
    )
    assert left == 0


async def test_a_purge_takes_every_tenants_rows_past_its_horizon(
    database: Database, other_tenant: str, test_database: ScratchDatabase
) -> None:
    theirs = await _register(database, other_tenant, unique_email())
    token_hash = uuid.uuid4().bytes * 2
    await test_database.execute(
        "INSERT INTO device_tokens (token_hash, tenant_id, user_id, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $4)",
        token_hash,
        other_tenant,
        theirs,
        NOW - timedelta(days=400),
    )
    current_tenant.set(DEFAULT_TENANT)  # the maintenance run's
    async with unit_of_work(database) as db:
        while await purge_expired_device_tokens(db, now=NOW, limit=1000):
            pass
    left = await test_database.fetchval(
        "SELECT count(*) FROM device_tokens WHERE token_hash = $1", token_hash
    )
    assert left == 0
