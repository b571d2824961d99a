"""The tenant routes on either schema: an end-user token is refused as at every admin route,
never a 500, also on the schema before tenants (and admins) existed."""

from __future__ import annotations

import pytest

from tests.support.accounts import register
from tests.support.admin import ADMIN
from tests.support.http import ApiClient

pytestmark = pytest.mark.integration


async def test_an_end_user_token_opens_no_tenant_route(client: ApiClient) -> None:
    user = await register(client)
    for method, path in (
        ("GET", f"{ADMIN}/tenants"),
        ("GET", f"{ADMIN}/tenants/default"),
        ("POST", f"{ADMIN}/tenants/default/disable"),
    ):
        reply = await client.request(method, path, headers=user.auth)
        assert (reply.status, reply.code) == (403, "admin_token_required"), path
    anonymous = await client.get(f"{ADMIN}/tenants")
    assert (anonymous.status, anonymous.code) == (401, "not_authenticated")
