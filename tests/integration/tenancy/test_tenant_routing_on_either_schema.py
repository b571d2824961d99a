"""Tenant paths on either schema: on the previous release's (no `tenants` table) only the default
tenant exists, so every `/t/<id>/` path is `tenant_not_found` and the root paths serve as before."""

from __future__ import annotations

import pytest

from tests.support.accounts import register
from tests.support.http import ApiClient
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration


async def test_an_unknown_tenant_is_404_and_the_default_tenant_is_unchanged(
    client: ApiClient,
) -> None:
    assert_problem(await client.get("/t/nobody/api/v1/auth/me"), 404, "tenant_not_found")
    assert_problem(await client.get("/t/nobody/.well-known/jwks.json"), 404, "tenant_not_found")
    account = await register(client)  # the deprecated alias, still the default tenant's
    assert (await client.get("/api/v1/auth/me", token=account.access_token)).status == 200
