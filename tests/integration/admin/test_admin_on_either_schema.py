"""The admin API on either schema: before migration 0012 no account can be an admin (there is no
role), so an admin token is refused as for any user, never a 500."""

from __future__ import annotations

import pytest

from tests.support.accounts import register
from tests.support.admin import ADMIN
from tests.support.http import ApiClient

pytestmark = pytest.mark.integration


async def test_a_user_gets_no_admin_token_and_their_token_opens_no_admin_route(
    client: ApiClient,
) -> None:
    user = await register(client)
    token = await client.post(f"{ADMIN}/token", headers=user.auth)  # refused before any body
    assert (token.status, token.code) == (403, "admin_role_required")
    for path in (f"{ADMIN}/users", f"{ADMIN}/events"):
        reply = await client.get(path, headers=user.auth)
        assert (reply.status, reply.code) == (403, "admin_token_required"), path
