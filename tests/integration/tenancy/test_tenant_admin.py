"""The admin API's tenant routes (issue 17): who may call them, what each does, its audit row."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from authapi.tenant_scope import current_tenant
from authapi.tenants import directory
from tests.support.accounts import REGISTER, register, unique_email
from tests.support.admin import ADMIN, Admin, make_admin
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import START

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

TENANTS = f"{ADMIN}/tenants"
TWELVE = "tulip-harbor"


@pytest.fixture(autouse=True)
def fresh_directory() -> Iterator[None]:
    directory.forget()
    yield
    directory.forget()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(
        clock=clock, mfa_step_up_seconds=300, tenant_mail_identities=["acme.example"]
    ) as client:
        yield client


@pytest.fixture
async def admin(api: ApiClient, clock: ManualClock, test_database: ScratchDatabase) -> Admin:
    return await make_admin(api, clock, test_database)


def _new_id() -> str:
    return f"acme-{uuid.uuid4().hex[:10]}"


# every tenant route, with a body it accepts
def _routes(tenant_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", TENANTS, {"id": _new_id(), "name": "Acme"}),
        ("GET", TENANTS, None),
        ("GET", f"{TENANTS}/{tenant_id}", None),
        ("PATCH", f"{TENANTS}/{tenant_id}/settings", {"mfa_required": True}),
        ("POST", f"{TENANTS}/{tenant_id}/disable", None),
        ("POST", f"{TENANTS}/{tenant_id}/enable", None),
    ]


async def _create(api: ApiClient, admin: Admin, tenant_id: str | None = None) -> str:
    tenant_id = tenant_id or _new_id()
    reply = await api.post(TENANTS, json={"id": tenant_id, "name": "Acme"}, headers=admin.auth)
    assert reply.status == 201, reply.body
    return tenant_id


async def _audited(database: ScratchDatabase, admin: Admin, kind: str, tenant_id: str) -> Any:
    [row] = await database.fetch(
        "SELECT actor_kind, actor_id, user_id, details FROM audit_events "
        "WHERE type = $1 AND details->>'tenant_id' = $2",
        kind,
        tenant_id,
    )
    assert (row["actor_kind"], row["actor_id"], row["user_id"]) == ("admin", admin.id, None)
    queued = await database.fetchval(
        "SELECT count(*) FROM event_outbox o JOIN audit_events e ON e.id = o.event_id "
        "WHERE e.type = $1 AND e.details->>'tenant_id' = $2",
        kind,
        tenant_id,
    )
    assert queued == 1
    return row


async def test_no_token_is_401_and_an_end_user_token_403_on_every_route(
    api: ApiClient, admin: Admin
) -> None:
    tenant_id = await _create(api, admin)
    user = await register(api)
    for method, path, body in _routes(tenant_id):
        anonymous = await api.request(method, path, json=body)
        assert (anonymous.status, anonymous.code) == (401, "not_authenticated"), (method, path)
        end_user = await api.request(method, path, json=body, headers=user.auth)
        assert (end_user.status, end_user.code) == (403, "admin_token_required"), (method, path)


async def test_an_administrator_of_another_tenant_gets_403_on_every_route(
    api: ApiClient, admin: Admin, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    tenant_id = await _create(api, admin)
    # an administrator of that tenant: their account, MFA and admin token all made in it
    token = current_tenant.set(tenant_id)
    try:
        tenant_admin = await make_admin(api, clock, test_database)
    finally:
        current_tenant.reset(token)
    for method, path, body in _routes(tenant_id):
        # at the tenant's own admin API (the path sets the tenant, as in production)
        refused = await api.request(
            method, f"/t/{tenant_id}{path}", json=body, headers=tenant_admin.auth
        )
        assert (refused.status, refused.code) == (403, "default_tenant_admin_required"), (
            method,
            path,
        )
        # and at the default tenant's: its token names another issuer
        other = await api.request(method, path, json=body, headers=tenant_admin.auth)
        assert (other.status, other.code) == (401, "invalid_token"), (method, path)


async def test_create_list_and_get(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    tenant_id = _new_id()
    created = await api.post(TENANTS, json={"id": tenant_id, "name": "Acme"}, headers=admin.auth)
    assert created.status == 201, created.body
    assert created.body["status"] == "active"
    assert created.body["settings"]["password_min_length"] is None
    assert tenant_id in created.body["signing_keys_command"]
    await _audited(test_database, admin, "tenant.created", tenant_id)

    again = await api.post(TENANTS, json={"id": tenant_id, "name": "Other"}, headers=admin.auth)
    assert (again.status, again.code) == (409, "tenant_exists")
    bad = await api.post(TENANTS, json={"id": "Not A Slug", "name": "x"}, headers=admin.auth)
    assert (bad.status, bad.code) == (422, "validation_error")

    listed = await api.get(TENANTS, headers=admin.auth)
    assert listed.status == 200
    ids = [tenant["id"] for tenant in listed.body["tenants"]]
    assert ids[0] == "default"
    assert tenant_id in ids
    shown = await api.get(f"{TENANTS}/{tenant_id}", headers=admin.auth)
    assert (shown.status, shown.body["name"]) == (200, "Acme")
    missing_id = _new_id()
    missing = await api.get(f"{TENANTS}/{missing_id}", headers=admin.auth)
    assert (missing.status, missing.code) == (404, "tenant_not_found")
    # reads are recorded too, by the statement that reads; a 404 records nothing
    await _audited(test_database, admin, "admin.tenant_viewed", tenant_id)
    assert not await test_database.fetch(
        "SELECT 1 FROM audit_events WHERE details->>'tenant_id' = $1", missing_id
    )
    listed_rows = await test_database.fetchval(
        "SELECT count(*) FROM audit_events WHERE type = 'admin.tenants_listed' AND actor_id = $1",
        admin.id,
    )
    assert listed_rows == 1


async def test_settings_change_applies_at_once_here_and_is_audited_without_values(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    tenant_id = await _create(api, admin)

    async def register_in_tenant() -> int:
        token = current_tenant.set(tenant_id)
        try:
            reply = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
        finally:
            current_tenant.reset(token)
        return reply.status

    assert await register_in_tenant() == 201  # cached: the deployment's minimum
    changed = await api.request(
        "PATCH",
        f"{TENANTS}/{tenant_id}/settings",
        json={"password_min_length": 16, "mail_from": "Acme <no-reply@acme.example>"},
        headers=admin.auth,
    )
    assert changed.status == 200, changed.body
    assert changed.body["settings"]["password_min_length"] == 16
    assert await register_in_tenant() == 422  # forgotten by the write: no TTL to wait for
    row = await _audited(test_database, admin, "tenant.settings_changed", tenant_id)
    assert "acme.example" not in str(row["details"])
    assert sorted(json.loads(row["details"])["changed"]) == [
        "mail_from",
        "password_min_length",
    ]

    cleared = await api.request(
        "PATCH",
        f"{TENANTS}/{tenant_id}/settings",
        json={"password_min_length": None},
        headers=admin.auth,
    )
    assert cleared.status == 200
    assert cleared.body["settings"]["password_min_length"] is None
    assert cleared.body["settings"]["mail_from"] == "Acme <no-reply@acme.example>"
    assert await register_in_tenant() == 201


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"password_min_length": 4}, "password_min_length"),
        ({"mail_from": "x@unlisted.example"}, "mail_from"),
        ({"cors_origins": ["https://a.example"]}, "cors_origins"),
        ({"access_token_ttl_seconds": "long"}, "access_token_ttl_seconds"),
    ],
)
async def test_refused_settings_are_422_naming_the_field_and_change_nothing(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase, values: dict[str, Any], field: str
) -> None:
    tenant_id = await _create(api, admin)
    refused = await api.request(
        "PATCH", f"{TENANTS}/{tenant_id}/settings", json=values, headers=admin.auth
    )
    assert (refused.status, refused.code) == (422, "invalid_tenant_settings"), refused.body
    assert refused.body["errors"][0]["loc"] == ["body", field]
    assert refused.headers["content-type"].startswith("application/problem+json")
    stored = await test_database.fetchval(
        "SELECT settings::text FROM tenants WHERE id = $1", tenant_id
    )
    assert stored == "{}"


async def test_disable_and_enable_and_the_default_tenant_stays_fixed(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    tenant_id = await _create(api, admin)
    disabled = await api.post(f"{TENANTS}/{tenant_id}/disable", headers=admin.auth)
    assert (disabled.status, disabled.body["status"]) == (200, "disabled")
    await _audited(test_database, admin, "tenant.disabled", tenant_id)
    twice = await api.post(f"{TENANTS}/{tenant_id}/disable", headers=admin.auth)
    assert (twice.status, twice.body["status"]) == (200, "disabled")  # no second audit row
    await _audited(test_database, admin, "tenant.disabled", tenant_id)
    enabled = await api.post(f"{TENANTS}/{tenant_id}/enable", headers=admin.auth)
    assert (enabled.status, enabled.body["status"]) == (200, "active")
    await _audited(test_database, admin, "tenant.enabled", tenant_id)

    for path in (f"{TENANTS}/default/disable", f"{TENANTS}/default/enable"):
        fixed = await api.post(path, headers=admin.auth)
        assert (fixed.status, fixed.code) == (409, "default_tenant_fixed")
    settings = await api.request(
        "PATCH", f"{TENANTS}/default/settings", json={"mfa_required": True}, headers=admin.auth
    )
    assert (settings.status, settings.code) == (409, "default_tenant_fixed")
    missing = await api.post(f"{TENANTS}/{_new_id()}/disable", headers=admin.auth)
    assert (missing.status, missing.code) == (404, "tenant_not_found")


async def test_a_method_the_tenants_path_does_not_take_names_both_it_does(api: ApiClient) -> None:
    reply = await api.request("PUT", f"{ADMIN}/tenants")
    assert (reply.status, reply.code) == (405, "method_not_allowed")
    assert reply.headers["allow"] == "GET, POST"
