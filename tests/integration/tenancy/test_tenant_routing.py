"""Tenant paths (`/t/<id>/...`) and the tokens they issue: each tenant's own issuer, discovery and
keys; a token of one tenant is refused by every other, the default tenant included.

Users are not yet isolated in the database here (the tenant_id predicates are another change's);
these tests prove the isolation that tokens and issuers give, whatever the rows.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import jwt
import pytest

from authapi.app import create_app
from authapi.resources import app_resources
from authapi.tenants import directory
from devtools.tenants import create_tenant_keys, insert_tenant
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.admin import ADMIN, bearer, make_admin
from tests.support.aws import PREFIX, lambda_settings, put_keys, put_kms_key_arn
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import START
from tests.support.oauth import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, OAUTH_SETTINGS
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi import FastAPI
    from mypy_boto3_ssm import SSMClient

    from authapi.config import Settings
    from tests.support.db import ScratchDatabase

# the tenants table is migration 0013's
pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

ME = "/api/v1/auth/me"


async def new_tenant(database: ScratchDatabase, **keys: object) -> str:
    """A tenant made as `make tenant-create` makes one: its row, then its key."""
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    assert await insert_tenant(database.url, tenant_id, f"Tenant {tenant_id}")
    create_tenant_keys(tenant_id, **keys)  # type: ignore[arg-type]
    return tenant_id


async def register_in(client: ApiClient, prefix: str) -> dict[str, object]:
    body = {"email": unique_email(), "password": STRONG_PASSWORD}
    reply = await client.post(f"{prefix}/api/v1/auth/register", json=body)
    assert reply.status == 201, reply
    return {**reply.body, **body}


def issuer_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["iss"])


@pytest.fixture
async def two_tenants(test_database: ScratchDatabase, tmp_path: Path) -> tuple[str, str]:
    # locally a tenant's key is a file; this app's provider (settings, not development) makes
    # a throwaway one per tenant, so the files only prove the CLI path runs
    key_file = tmp_path / "dev-signing-key.pem"
    return (
        await new_tenant(test_database, key_file=key_file),
        await new_tenant(test_database, key_file=key_file),
    )


async def test_a_tenant_serves_register_login_and_me_under_its_path_with_its_issuer(
    client: ApiClient, settings: Settings, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    prefix = f"/t/{tenant}"
    account = await register_in(client, prefix)
    assert issuer_of(str(account["access_token"])) == f"{settings.jwt_issuer}/t/{tenant}"

    login = await client.post(
        f"{prefix}/api/v1/auth/login",
        json={"email": account["email"], "password": account["password"]},
    )
    assert login.status == 200, login
    assert issuer_of(login.body["access_token"]) == f"{settings.jwt_issuer}/t/{tenant}"
    me = await client.get(prefix + ME, token=login.body["access_token"])
    assert me.status == 200, me
    assert me.body["email"] == account["email"]

    refreshed = await client.post(
        f"{prefix}/api/v1/auth/refresh-token", json={"refresh_token": login.body["refresh_token"]}
    )
    assert refreshed.status == 200, refreshed
    assert issuer_of(refreshed.body["access_token"]) == f"{settings.jwt_issuer}/t/{tenant}"


async def test_a_tenants_token_is_refused_by_the_default_tenant_and_by_another(
    client: ApiClient, two_tenants: tuple[str, str]
) -> None:
    tenant, other = two_tenants
    token = str((await register_in(client, f"/t/{tenant}"))["access_token"])
    assert (await client.get(f"/t/{tenant}{ME}", token=token)).status == 200
    assert_problem(await client.get(ME, token=token), 401, "invalid_token")
    assert_problem(await client.get(f"/t/{other}{ME}", token=token), 401, "invalid_token")


async def test_a_default_token_is_refused_by_a_tenant(
    client: ApiClient, settings: Settings, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    token = str((await register_in(client, ""))["access_token"])
    assert issuer_of(token) == settings.jwt_issuer  # the default tenant's, as before tenants
    assert (await client.get(ME, token=token)).status == 200
    assert_problem(await client.get(f"/t/{tenant}{ME}", token=token), 401, "invalid_token")


async def test_unknown_disabled_and_default_tenant_paths_are_one_404(
    client: ApiClient, test_database: ScratchDatabase, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    await test_database.execute("UPDATE tenants SET disabled_at = now() WHERE id = $1", tenant)
    directory.forget(tenant)
    for path in (
        f"/t/{tenant}{ME}",  # disabled
        f"/t/nobody-{uuid.uuid4().hex[:8]}{ME}",  # unknown
        "/t/Not_A_Slug/api/v1/auth/me",  # not even an id
        "/t/default/api/v1/auth/me",  # the default tenant lives at the root paths only
        f"/t/{tenant}/.well-known/jwks.json",
    ):
        reply = await client.get(path)
        assert_problem(reply, 404, "tenant_not_found")
        assert "x-request-id" in reply.headers  # the front's headers, as on every answer
    # a disabled tenant's answer is an unknown one's, word for word
    disabled = await client.get(f"/t/{tenant}{ME}")
    unknown = await client.get(f"/t/nobody-{uuid.uuid4().hex[:8]}{ME}")
    assert {k: v for k, v in disabled.body.items() if k != "request_id"} == {
        k: v for k, v in unknown.body.items() if k != "request_id"
    }


async def test_urls_the_app_builds_keep_the_tenants_prefix(
    client: ApiClient, settings: Settings, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    assert not settings.jwt_issuer.startswith("http")  # a name: documents name the host asked
    reply = await client.get(f"/t/{tenant}/.well-known/openid-configuration")
    assert reply.status == 200, reply
    assert reply.body == {
        "issuer": f"{settings.jwt_issuer}/t/{tenant}",
        "jwks_uri": f"http://testserver/t/{tenant}/.well-known/jwks.json",
    }
    metadata = await client.get(f"/t/{tenant}/.well-known/oauth-authorization-server")
    assert metadata.body["token_endpoint"] == f"http://testserver/t/{tenant}/api/v1/oauth/token"


async def test_the_deprecated_aliases_belong_to_the_default_tenant_alone(
    client: ApiClient, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    body = {"email": unique_email(), "password": STRONG_PASSWORD}
    assert_problem(await client.post(f"/t/{tenant}/api/auth/register", json=body), 404, "not_found")


async def test_a_tenants_oauth_endpoints_answer_as_oauth_endpoints(
    client: ApiClient, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    reply = await client.post(f"/t/{tenant}/api/v1/oauth/token", data={"grant_type": "nope"})
    assert reply.status == 400, reply
    assert reply.body["error"] == "unsupported_grant_type"
    unknown = await client.post("/t/nobody-x/api/v1/oauth/token", data={"grant_type": "nope"})
    assert unknown.status == 404
    assert unknown.body["code"] == "tenant_not_found"


@pytest.fixture
async def ssm_app(ssm: SSMClient, test_database: ScratchDatabase) -> AsyncIterator[FastAPI]:
    """The app as in Lambda: its keys, and its tenants' keys, from SSM (moto)."""
    put_keys(ssm, _pem())
    put_kms_key_arn(ssm)
    app = create_app(
        lambda_settings(
            test_database, jwt_issuer="https://auth.example.com", trusted_hosts=["testserver"]
        )
    )
    yield app
    await app_resources(app).aclose()


def _pem() -> str:
    from authapi.key_material import generate_private_key_pem

    return generate_private_key_pem()


async def test_each_tenant_has_its_discovery_and_jwks_listing_only_its_keys(
    ssm: SSMClient, ssm_app: FastAPI, test_database: ScratchDatabase
) -> None:
    tenant = await new_tenant(test_database, ssm=ssm, prefix=PREFIX, key_bits=2048)
    other = await new_tenant(test_database, ssm=ssm, prefix=PREFIX, key_bits=2048)
    tenant_kid = create_tenant_keys(tenant, ssm=ssm, prefix=PREFIX)  # the one it has
    other_kid = create_tenant_keys(other, ssm=ssm, prefix=PREFIX)
    issuer = f"https://auth.example.com/t/{tenant}"
    async with ApiClient.asgi(ssm_app) as client:
        openid = await client.get(f"/t/{tenant}/.well-known/openid-configuration")
        assert openid.status == 200, openid
        assert openid.body == {"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}

        for path in (
            f"/t/{tenant}/.well-known/oauth-authorization-server",
            f"/.well-known/oauth-authorization-server/t/{tenant}",  # RFC 8414 path-inserted
        ):
            metadata = await client.get(path)
            assert metadata.status == 200, metadata
            assert metadata.body["issuer"] == issuer
            assert metadata.body["token_endpoint"] == f"{issuer}/api/v1/oauth/token"
            assert metadata.body["jwks_uri"] == f"{issuer}/.well-known/jwks.json"

        keys = await client.get(f"/t/{tenant}/.well-known/jwks.json")
        assert [key["kid"] for key in keys.body["keys"]] == [tenant_kid]
        default_keys = await client.get("/.well-known/jwks.json")
        assert {key["kid"] for key in default_keys.body["keys"]}.isdisjoint({tenant_kid, other_kid})
        root = await client.get("/.well-known/openid-configuration")
        assert root.body["issuer"] == "https://auth.example.com"  # the default's, unchanged

        # a token the tenant issued verifies with its JWKS and names its issuer
        account = await register_in(client, f"/t/{tenant}")
        token = str(account["access_token"])
        header = jwt.get_unverified_header(token)
        assert header["kid"] == tenant_kid
        assert issuer_of(token) == issuer
        assert_problem(await client.get(f"/t/{other}{ME}", token=token), 401, "invalid_token")


async def test_an_admin_token_is_its_tenants_alone(
    client_with: ClientWith, test_database: ScratchDatabase, two_tenants: tuple[str, str]
) -> None:
    tenant, _ = two_tenants
    clock = ManualClock(START)
    async with client_with(clock=clock) as api:
        admin = await make_admin(api, clock, test_database)
        assert (await api.get(f"{ADMIN}/events", headers=admin.auth)).status == 200
        assert_problem(
            await api.get(f"/t/{tenant}{ADMIN}/events", headers=admin.auth), 401, "invalid_token"
        )
        # and a tenant's end-user token is no token at all to the default tenant's admin API
        tenant_token = str((await register_in(api, f"/t/{tenant}"))["access_token"])
        assert_problem(
            await api.get(f"{ADMIN}/events", headers=bearer(tenant_token)), 401, "invalid_token"
        )


async def test_introspection_sees_a_token_active_only_in_its_own_tenant(
    client_with: ClientWith, two_tenants: tuple[str, str]
) -> None:
    tenant, other = two_tenants
    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    async with client_with(**OAUTH_SETTINGS) as api:
        token = str((await register_in(api, f"/t/{tenant}"))["access_token"])

        async def active_at(prefix: str) -> bool:
            reply = await api.post(
                f"{prefix}/api/v1/oauth/introspect", data={"token": token}, headers=headers
            )
            assert reply.status == 200, reply
            return bool(reply.body["active"])

        assert await active_at(f"/t/{tenant}")
        assert not await active_at(f"/t/{other}")
        assert not await active_at("")


def test_make_tenant_create_adds_the_row_and_the_key_file(
    test_database: ScratchDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from devtools import embedded_postgres
    from devtools.tenants import main

    monkeypatch.chdir(tmp_path)  # the key goes to ./.local/tenants/<id>/, as in a checkout
    local = embedded_postgres.LocalDatabase(test_database.url, None, "the test database")
    monkeypatch.setattr(embedded_postgres, "local_database", lambda name: local)
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    assert main([tenant_id, "--name", "Acme"]) == 0
    assert "created" in capsys.readouterr().out
    assert (tmp_path / ".local" / "tenants" / tenant_id / "dev-signing-key.pem").exists()
    assert main([tenant_id]) == 0  # again: nothing changes
    assert "exists already" in capsys.readouterr().out
    assert main(["default"]) == 1
