"""What an environment does while it does not know the schema has tenants yet (it probed just
before migration 0014 and asks again at most once a minute), and the indexes the previous
release still looks up by (review findings of issue 17)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import request_session
from authapi.exceptions import ServiceUnavailableError
from authapi.models import User
from authapi.resources import app_resources
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant
from devtools.tenants import insert_tenant
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

# (table, column) the previous release finds rows by, without a tenant
LOOKED_UP_WITHOUT_TENANT = (
    ("users", "email"),
    ("users", "email_skeleton"),
    ("refresh_tokens", "token_hash"),
    ("account_tokens", "outbox_id"),
    ("account_tokens", "token_hash"),
)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
def default_tenant_afterwards() -> Iterator[None]:
    token = current_tenant.set(DEFAULT_TENANT)
    yield
    current_tenant.reset(token)


@pytest.fixture
def believes_no_tenants(app: FastAPI) -> Iterator[Database]:
    """The app's database as an environment that probed just before migration 0014."""
    database = app_resources(app).database
    saved = (database.schema_has_tenants, database.schema_probed_at)
    database.schema_has_tenants = False
    database.schema_probed_at = time.monotonic()
    yield database
    database.schema_has_tenants, database.schema_probed_at = saved


async def test_serving_a_tenant_asks_the_schema_again_at_once(
    client: ApiClient, test_database: ScratchDatabase, believes_no_tenants: Database
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    assert await insert_tenant(test_database.url, tenant, "Probe")
    email = unique_email()
    body = {"email": email, "password": STRONG_PASSWORD}
    reply = await client.post(f"/t/{tenant}/api/v1/auth/register", json=body)
    assert reply.status == 201, reply
    assert believes_no_tenants.schema_has_tenants is True
    # the account is the tenant's, not the default tenant's
    row = await test_database.fetchval("SELECT tenant_id FROM users WHERE email = $1", email)
    assert row == tenant
    assert (await client.post("/api/v1/auth/login", json=body)).code == "invalid_credentials"


async def test_a_statement_of_another_tenant_refuses_to_run_unscoped(
    database: Database, default_tenant_afterwards: None
) -> None:
    database.schema_has_tenants = False  # what the probe said a moment ago
    database.schema_probed_at = time.monotonic()
    current_tenant.set(f"t-{uuid.uuid4().hex[:12]}")
    with pytest.raises(ServiceUnavailableError):
        async with request_session(database) as db:
            await db.execute(select(User.id).limit(1))
    # the default tenant's own statements run as on the previous schema
    current_tenant.set(DEFAULT_TENANT)
    async with request_session(database) as db:
        await db.execute(select(User.id).limit(1))


@pytest.mark.parametrize(("table", "column"), LOOKED_UP_WITHOUT_TENANT)
async def test_the_previous_release_keeps_an_index_for_its_lookups(
    test_database: ScratchDatabase, table: str, column: str
) -> None:
    # an index led by tenant_id cannot serve `WHERE column = $1` (no skip scan before
    # PostgreSQL 18): the previous release would scan the table at every login and refresh
    leading = await test_database.fetchval(
        "SELECT count(*) FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
        " WHERE i.indrelid = to_regclass($1) AND a.attname = $2",
        table,
        column,
    )
    assert leading >= 1
