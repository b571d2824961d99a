"""Throttle keys include the tenant (issue 17): an attack on an address in one tenant does not
lock the same address out of another; the default tenant keeps the keys it had."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest

from authapi.abuse.login_throttle import ACCOUNT_PURPOSE, login_keys
from authapi.signing.keys import DataKeys
from authapi.tenant_scope import current_tenant
from authapi.tenants import directory
from tests.support.accounts import unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

LOGIN = "/api/v1/auth/login"


@pytest.fixture
async def api(client_with: ClientWith) -> AsyncIterator[ApiClient]:
    directory.forget()
    async with client_with(login_max_failures=2) as client:
        yield client
    directory.forget()


async def _login(
    api: ApiClient, email: str, tenant_id: str | None = None
) -> tuple[int, str | None]:
    token = current_tenant.set(tenant_id) if tenant_id else None
    try:
        reply = await api.post(LOGIN, json={"email": email, "password": "not-the-password"})
    finally:
        if token is not None:
            current_tenant.reset(token)
    return reply.status, reply.code


async def test_a_lock_in_one_tenant_leaves_the_address_free_elsewhere(
    api: ApiClient, test_database: ScratchDatabase
) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await test_database.execute(
        "INSERT INTO tenants (id, name, settings, created_at) VALUES ($1, 'T', $2::jsonb, now())",
        tenant_id,
        json.dumps({}),
    )
    email = unique_email()
    for _ in range(2):
        assert await _login(api, email, tenant_id) == (401, "invalid_credentials")
    assert (await _login(api, email, tenant_id))[0] == 429
    # the same address in the default tenant: not locked
    assert await _login(api, email) == (401, "invalid_credentials")


def test_the_default_tenant_keeps_its_keys_from_before_tenants() -> None:
    data_keys = DataKeys(keys=(("k1", b"k" * 32),))
    email = unique_email()
    assert login_keys(data_keys, email=email, client="10.0.0.1").account == data_keys.hmac(
        ACCOUNT_PURPOSE, email
    )
    token = current_tenant.set("acme")
    try:
        scoped = login_keys(data_keys, email=email, client="10.0.0.1").account
    finally:
        current_tenant.reset(token)
    assert scoped != data_keys.hmac(ACCOUNT_PURPOSE, email)
