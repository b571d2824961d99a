"""A tenant's own settings (authapi.tenants.settings): what may be stored, and what its flows
run with. The tenant is set as the path middleware sets it (authapi.tenant_scope)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest

from authapi.config import Settings
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant
from authapi.tenants import directory
from authapi.tenants.settings import (
    TenantSettingsInvalid,
    effective_settings,
    parse_tenant_settings,
)
from tests.support.accounts import REGISTER, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

TWELVE = "tulip-harbor"  # 12 characters, not a common password


def _fields(error: TenantSettingsInvalid) -> set[str]:
    return {field for field, _ in error.problems}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"password_min_length": 7}, "password_min_length"),  # below NIST's 8
        ({"password_min_length": 129}, "password_min_length"),
        ({"access_token_ttl_seconds": 59}, "access_token_ttl_seconds"),
        ({"access_token_ttl_seconds": 86401}, "access_token_ttl_seconds"),
        ({"refresh_token_ttl_seconds": 299}, "refresh_token_ttl_seconds"),
        ({"mfa_required": "sometimes"}, "mfa_required"),
        ({"public_app_url": "ftp://app.example.com"}, "public_app_url"),
        ({"public_app_url": "https://app.example.com/?next=x"}, "public_app_url"),
        ({"public_app_url": "https://user:pw@app.example.com"}, "public_app_url"),
        ({"mail_from": "a@example.com, b@example.com"}, "mail_from"),
        ({"mail_from": "App <a@example.com>\r\nBcc: x@evil.test"}, "mail_from"),
        ({"mail_from": "App <a@unlisted.test>"}, "mail_from"),
        ({"cors_origins": ["https://app.example.com"]}, "cors_origins"),  # not a setting
    ],
)
def test_values_a_tenant_may_not_have_are_refused_by_field(
    settings: Settings, values: dict[str, Any], field: str
) -> None:
    deployment = settings.model_copy(update={"tenant_mail_identities": ["example.com"]})
    with pytest.raises(TenantSettingsInvalid) as refused:
        parse_tenant_settings(deployment, values)
    assert _fields(refused.value) == {field}


def test_deployment_bounds_refuse_what_field_bounds_allow(settings: Settings) -> None:
    production_like = settings.model_copy(
        update={
            "environment": "production",
            "session_max_age_seconds": 3600,
            "refresh_token_ttl_seconds": 600,
        }
    )
    with pytest.raises(TenantSettingsInvalid) as refused:
        parse_tenant_settings(
            production_like,
            {"public_app_url": "http://app.example.com", "refresh_token_ttl_seconds": 7200},
        )
    assert _fields(refused.value) == {"public_app_url", "refresh_token_ttl_seconds"}
    # locally, http is fine
    assert parse_tenant_settings(
        settings, {"public_app_url": "http://127.0.0.1:3000/"}
    ).stored() == {"public_app_url": "http://127.0.0.1:3000"}


def test_a_sender_only_at_a_listed_identity(settings: Settings) -> None:
    deployment = settings.model_copy(
        update={"tenant_mail_identities": ["acme.example", "solo@other.example"]}
    )
    parsed = parse_tenant_settings(deployment, {"mail_from": "Acme <no-reply@ACME.example>"})
    assert parsed.mail_from == "Acme <no-reply@ACME.example>"
    assert parse_tenant_settings(deployment, {"mail_from": "solo@other.example"}).mail_from
    for refused in ("x@sub.acme.example", "other@other.example", "x@acme.example.evil"):
        with pytest.raises(TenantSettingsInvalid):
            parse_tenant_settings(deployment, {"mail_from": refused})


def test_effective_settings_keep_the_deployment_floors(settings: Settings) -> None:
    strict = settings.model_copy(
        update={"password_min_length": 14, "mfa_required": True, "session_max_age_seconds": 900}
    )
    stored = {
        "password_min_length": 10,
        "mfa_required": False,
        "refresh_token_ttl_seconds": 3600,  # stored before the deployment shortened sessions
        "mail_from": "x@no-longer-listed.example",
        "some_future_setting": 1,  # a newer release's: ignored, not an error
    }
    record = directory.TenantRecord(id="floors", name="Floors", settings=stored)
    effective = effective_settings(strict, record)
    assert effective.password_min_length == 14
    assert effective.mfa_required is True
    assert effective.refresh_token_ttl_seconds == 900
    assert effective.mail_from == strict.mail_from
    # nothing stored: the deployment's settings themselves
    assert effective_settings(strict, directory.TenantRecord(id="plain", name="P")) is strict


# -- the flows, through the app


@pytest.fixture(autouse=True)
def fresh_directory() -> Iterator[None]:
    directory.forget()
    yield
    directory.forget()


async def _tenant(database: ScratchDatabase, settings: dict[str, Any]) -> str:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await database.execute(
        "INSERT INTO tenants (id, name, settings, created_at) VALUES ($1, $2, $3::jsonb, now())",
        tenant_id,
        tenant_id.upper(),
        json.dumps(settings),
    )
    return tenant_id


class _InTenant:
    """current_tenant for the requests made inside (what /t/{tenant}/... sets)."""

    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id

    def __enter__(self) -> None:
        self._token = current_tenant.set(self.tenant_id)

    def __exit__(self, *exc: object) -> None:
        current_tenant.reset(self._token)


@pytest.fixture
async def api(client_with: ClientWith) -> AsyncIterator[ApiClient]:
    async with client_with() as client:
        yield client


async def test_a_tenant_password_minimum_applies_to_its_registrations_only(
    api: ApiClient, test_database: ScratchDatabase
) -> None:
    strict = await _tenant(test_database, {"password_min_length": 16})
    body = {"email": unique_email(), "password": TWELVE}
    refused = await api.post(f"/t/{strict}/api/v1/auth/register", json=body)
    assert (refused.status, refused.code) == (422, "weak_password")
    assert "16" in refused.body["detail"]
    accepted = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
    assert accepted.status == 201, accepted.body
    assert current_tenant.get() == DEFAULT_TENANT


async def test_a_tenant_token_lifetimes_show_in_its_tokens(
    api: ApiClient, test_database: ScratchDatabase
) -> None:
    short = await _tenant(
        test_database, {"access_token_ttl_seconds": 300, "refresh_token_ttl_seconds": 3600}
    )
    with _InTenant(short):
        reply = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
    assert reply.status == 201, reply.body
    assert reply.body["expires_in"] == 300
    claims = jwt.decode(reply.body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 300
    expires = await test_database.fetchval(
        "SELECT expires_at - created_at FROM refresh_tokens WHERE session_id = $1",
        uuid.UUID(claims["sid"]),
    )
    assert expires.total_seconds() == 3600
    default = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
    assert default.body["expires_in"] == 30 * 60


async def test_a_changed_setting_reaches_requests_after_forget_or_the_ttl(
    api: ApiClient, test_database: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id = await _tenant(test_database, {"access_token_ttl_seconds": 300})

    async def expires_in() -> int:
        with _InTenant(tenant_id):
            reply = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
        assert reply.status == 201, reply.body
        return int(reply.body["expires_in"])

    assert await expires_in() == 300
    await test_database.execute(
        "UPDATE tenants SET settings = '{\"access_token_ttl_seconds\": 600}' WHERE id = $1",
        tenant_id,
    )
    assert await expires_in() == 300  # cached in this environment
    now = time.monotonic()
    monkeypatch.setattr(
        directory,
        "time",
        type("Later", (), {"monotonic": staticmethod(lambda: now + directory.CACHE_SECONDS)}),
    )
    assert await expires_in() == 600  # read again once the TTL has passed
    await test_database.execute(
        "UPDATE tenants SET settings = '{\"access_token_ttl_seconds\": 900}' WHERE id = $1",
        tenant_id,
    )
    directory.forget(tenant_id)  # what the admin API does after its own write
    assert await expires_in() == 900


async def test_a_tenant_requiring_mfa_gives_an_account_without_a_factor_enrol_only_tokens(
    api: ApiClient, test_database: ScratchDatabase
) -> None:
    strict = await _tenant(test_database, {"mfa_required": True})
    with _InTenant(strict):
        reply = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
        assert reply.status == 201, reply.body
        claims = jwt.decode(reply.body["access_token"], options={"verify_signature": False})
        assert claims["token_use"] == "mfa_enrol"
        auth = {"Authorization": f"Bearer {reply.body['access_token']}"}
        me = await api.get("/api/v1/auth/me", headers=auth)
        assert (me.status, me.code) == (403, "mfa_enrolment_required")
        login = await api.post(
            "/api/v1/auth/login",
            json={"email": reply.body["user"]["email"], "password": TWELVE},
        )
        assert login.status == 200, login.body
        login_claims = jwt.decode(login.body["access_token"], options={"verify_signature": False})
        assert login_claims["token_use"] == "mfa_enrol"
    default = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
    claims = jwt.decode(default.body["access_token"], options={"verify_signature": False})
    assert claims["token_use"] == "access"


def test_the_deployment_lists_identities_by_name_or_by_the_arn_its_policy_names() -> None:
    listed = Settings(
        tenant_mail_identities=(
            "arn:aws:ses:eu-west-1:123456789012:identity/acme.example, solo@other.example"
        )
    )
    assert listed.tenant_mail_identities == ["acme.example", "solo@other.example"]


async def test_a_password_change_checks_the_tenant_minimum_even_on_a_cold_directory(
    api: ApiClient, test_database: ScratchDatabase
) -> None:
    tenant_id = await _tenant(test_database, {})
    with _InTenant(tenant_id):
        reply = await api.post(REGISTER, json={"email": unique_email(), "password": TWELVE})
        assert reply.status == 201, reply.body
        auth = {"Authorization": f"Bearer {reply.body['access_token']}"}
        await test_database.execute(
            "UPDATE tenants SET settings = '{\"password_min_length\": 16}' WHERE id = $1",
            tenant_id,
        )
        # cold: the rate limit's statement runs first on the request's one connection, and the
        # tenant is read after it (a second checkout would wait for the first forever)
        directory.forget()
        change = "/api/v1/auth/password/change"
        body = {"current_password": TWELVE, "new_password": "maple-orchard"}
        refused = await api.post(change, json=body, headers=auth)
        assert (refused.status, refused.code) == (422, "weak_password"), refused.body
        body["new_password"] = "maple-orchard-river"
        changed = await api.post(change, json=body, headers=auth)
        assert changed.status == 204, changed.body
