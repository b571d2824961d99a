"""The two-tenant isolation suite (issue 17), the admin API: an administrator of tenant B lists,
reads and acts on B's accounts only. A's account (the same email in tenant A) is not found at B
by any admin route, no admin action taken at B touches it, and B's admin token is refused at
A's admin routes. Directions and accounts as in test_isolation_accounts.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from tests.support.accounts import unique_email
from tests.support.admin import ADMIN, Admin, admin_token, grant_role
from tests.support.problems import assert_problem
from tests.support.tenancy import (
    DIRECTIONS,
    V1,
    Twin,
    World,
    direction_id,
    enrolled_in,
    make_twin,
    register_in,
    two_tenant_world,
)

if TYPE_CHECKING:
    from authapi.config import Settings
    from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture(scope="module")
async def world(settings: Settings, test_database: ScratchDatabase) -> AsyncIterator[World]:
    async with two_tenant_world(settings, test_database) as world:
        yield world


@pytest.fixture(scope="module")
async def admins(world: World, test_database: ScratchDatabase) -> dict[str, Admin]:
    """An administrator of each tenant, made there: its account, MFA, the role, its admin token."""
    made = {}
    for name in world.tenants:
        api = world.at(name)
        user = await enrolled_in(api, world.clock, await register_in(api, unique_email()))
        await grant_role(test_database, user.account.user_id)
        made[name] = Admin(user=user, token=await admin_token(api, world.clock, user))
    return made


@pytest.fixture(params=DIRECTIONS, ids=direction_id)
async def twin(request: pytest.FixtureRequest, world: World) -> Twin:
    return await make_twin(world, request.param)


async def test_an_admin_of_b_sees_only_b_s_account(
    world: World, twin: Twin, admins: dict[str, Admin]
) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    a_admin, b_admin = admins[twin.a_tenant], admins[twin.b_tenant]
    listed = await b.get(f"{ADMIN}/users", params={"email": twin.a.email}, headers=b_admin.auth)
    assert [u["id"] for u in listed.body["users"]] == [twin.b.user_id], listed
    # unfiltered: the default tenant holds every other test's accounts too, so only the first
    # page is read, and it must not hold A's (B's own is found by the filter above)
    everyone = await b.get(f"{ADMIN}/users", params={"limit": "100"}, headers=b_admin.auth)
    assert twin.a.user_id not in {u["id"] for u in everyone.body["users"]}

    assert (await b.get(f"{ADMIN}/users/{twin.b.user_id}", headers=b_admin.auth)).status == 200
    assert_problem(
        await b.get(f"{ADMIN}/users/{twin.a.user_id}", headers=b_admin.auth), 404, "user_not_found"
    )
    # the 404 is B's tenant, not A's account: A's own administrator finds it
    assert (await a.get(f"{ADMIN}/users/{twin.a.user_id}", headers=a_admin.auth)).status == 200

    events = await b.get(f"{ADMIN}/events", params={"limit": "100"}, headers=b_admin.auth)
    assert events.status == 200, events
    assert twin.a.user_id not in {str(e.get("user_id")) for e in events.body["events"]}
    # asked by account: B's registration is there, A's history is not B's to read
    own = await b.get(f"{ADMIN}/events", params={"user_id": twin.b.user_id}, headers=b_admin.auth)
    assert "account.registered" in {e["type"] for e in own.body["events"]}, own
    theirs = await b.get(
        f"{ADMIN}/events", params={"user_id": twin.a.user_id}, headers=b_admin.auth
    )
    assert (theirs.status, theirs.body["events"]) == (200, []), theirs
    mine = await a.get(f"{ADMIN}/events", params={"user_id": twin.a.user_id}, headers=a_admin.auth)
    assert "account.registered" in {e["type"] for e in mine.body["events"]}, mine


async def test_no_admin_action_at_b_touches_a_s_account(
    world: World, twin: Twin, admins: dict[str, Admin]
) -> None:
    a, b = world.at(twin.a_tenant), world.at(twin.b_tenant)
    b_admin = admins[twin.b_tenant]
    target = f"{ADMIN}/users/{twin.a.user_id}"
    for method, path in (
        ("POST", f"{target}/disable"),
        ("POST", f"{target}/logout"),
        ("POST", f"{target}/mfa/reset"),
        ("POST", f"{target}/verification/resend"),
        ("POST", f"{target}/enable"),
        ("DELETE", target),
    ):
        reply = await b.request(method, path, headers=b_admin.auth)
        assert_problem(reply, 404, "user_not_found")

    # A's account is as it was: active, its session alive, its password good
    me = await a.get(f"{V1}/me", headers=twin.a.auth)
    assert (me.status, me.body["id"]) == (200, twin.a.user_id)
    refresh = {"refresh_token": twin.a.refresh_token}
    assert (await a.post(f"{V1}/refresh-token", json=refresh)).status == 200
    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200

    # and the same actions on B's own account do act (the routes above were real ones)
    own = f"{ADMIN}/users/{twin.b.user_id}"
    assert (await b.post(f"{own}/disable", headers=b_admin.auth)).status == 204
    assert (await b.post(f"{V1}/login", json=twin.b.credentials)).code == "invalid_credentials"
    assert (await a.post(f"{V1}/login", json=twin.a.credentials)).status == 200
    assert (await b.request("DELETE", own, headers=b_admin.auth)).status == 204
    assert (await a.get(f"{V1}/me", headers=twin.a.auth)).status == 200


async def test_an_admin_token_of_b_is_refused_at_a(
    world: World, twin: Twin, admins: dict[str, Admin]
) -> None:
    a = world.at(twin.a_tenant)
    b_admin = admins[twin.b_tenant]
    for method, path in (
        ("GET", f"{ADMIN}/users"),
        ("GET", f"{ADMIN}/users/{twin.a.user_id}"),
        ("GET", f"{ADMIN}/events"),
        ("POST", f"{ADMIN}/users/{twin.a.user_id}/disable"),
        ("DELETE", f"{ADMIN}/users/{twin.a.user_id}"),
    ):
        reply = await a.request(method, path, headers=b_admin.auth)
        assert_problem(reply, 401, "invalid_token")
    # nor does B's administrator's own end-user token earn an admin token at A
    refused = await a.post(
        f"{ADMIN}/token",
        json={"code": b_admin.user.code(world.clock)},
        headers=b_admin.account.auth,
    )
    assert_problem(refused, 401, "invalid_token")
    assert (await a.get(f"{V1}/me", headers=twin.a.auth)).status == 200
    assert uuid.UUID(twin.a.user_id) != b_admin.id
