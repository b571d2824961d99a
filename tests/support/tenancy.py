"""Two tenants side by side in tests: a client of one app that speaks to one tenant (the
default tenant at the root paths, any other under `/t/<id>`), and accounts registered there.

Every helper of tests/support that takes an `ApiClient` works in a tenant through `in_tenant`:
the tenant's prefix is part of the client's base URL, so a path such as `/api/v1/auth/me` is
sent as `/t/<id>/api/v1/auth/me`. (The deprecated `/api/auth/*` aliases are the default
tenant's alone: `register_in` uses `/api/v1/auth/register`, which every tenant serves.)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from authapi.app import create_app
from authapi.config import Settings
from authapi.tenant_scope import DEFAULT_TENANT
from devtools.tenants import insert_tenant
from tests.support.accounts import STRONG_PASSWORD, Account, unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, Reply, Transport, serving, unique_client_ip
from tests.support.mail import SentMail
from tests.support.mfa import MFA, START, MfaAccount, activate

V1 = "/api/v1/auth"
REGISTER = f"{V1}/register"
# the per-address limits tests.support.settings.UNLIMITED leaves on: a module's tests share one
# client address, and these suites check answers, not limits
UNLIMITED_CHECKS = {
    "rate_limit_password_check": 1_000_000,
    "rate_limit_mail": 1_000_000,
    "rate_limit_account_token": 1_000_000,
}


class _InTenant:
    """A transport of `inner`'s whose base URL ends in the tenant's prefix."""

    def __init__(self, inner: Transport, prefix: str):
        self.inner = inner
        self.base_url = inner.base_url + prefix

    async def send(self, request: httpx.Request) -> Reply:
        return await self.inner.send(request)

    async def aclose(self) -> None:
        """The inner client is its owner's to close."""


def prefix_of(tenant: str) -> str:
    return "" if tenant == DEFAULT_TENANT else f"/t/{tenant}"


def in_tenant(client: ApiClient, tenant: str) -> ApiClient:
    """`client`'s app, as tenant `tenant` is addressed: the root paths for the default tenant."""
    return ApiClient(_InTenant(client.transport, prefix_of(tenant)))


async def new_tenant(database: ScratchDatabase) -> str:
    """A tenant's row, as `make tenant-create` inserts it locally; the tests' key provider (the
    settings one) makes each tenant a throwaway signing key on its first request."""
    tenant_id = f"iso-{uuid.uuid4().hex[:10]}"
    assert await insert_tenant(database.url, tenant_id, f"Isolation {tenant_id}")
    return tenant_id


# (tenant A, tenant B): A's account is attacked from B; "X" and "Y" are made per module
DIRECTIONS = [(DEFAULT_TENANT, "X"), ("X", DEFAULT_TENANT), ("X", "Y")]


def direction_id(direction: tuple[str, str]) -> str:
    return f"{direction[0]}-vs-{direction[1]}"


@dataclass(frozen=True)
class World:
    """One app, its clock, and the tenants a module's tests speak to by name."""

    client: ApiClient
    clock: ManualClock
    tenants: dict[str, str]  # "default", "X", "Y" -> the tenant's id

    def at(self, name: str) -> ApiClient:
        return in_tenant(self.client, self.tenants[name])


@asynccontextmanager
async def two_tenant_world(
    settings: Settings, database: ScratchDatabase, **overrides: object
) -> AsyncIterator[World]:
    """A module's app (the session's settings changed by `overrides`, a manual clock, an address
    of its own) and two new tenants X and Y beside the default one."""
    clock = ManualClock(START)
    changed = settings.model_copy(update={**UNLIMITED_CHECKS, **overrides})
    tenants = {
        DEFAULT_TENANT: DEFAULT_TENANT,
        "X": await new_tenant(database),
        "Y": await new_tenant(database),
    }
    async with serving(create_app(changed, clock=clock), client_ip=unique_client_ip()) as client:
        yield World(client, clock, tenants)


async def register_in(api: ApiClient, email: str, password: str = STRONG_PASSWORD) -> Account:
    """Register `email` in `api`'s tenant."""
    reply = await api.post(REGISTER, json={"email": email, "password": password})
    return Account.registered(reply, password=password)


async def enrolled_in(api: ApiClient, clock: ManualClock, account: Account) -> MfaAccount:
    """`account` (of `api`'s tenant) with an active authenticator; the clock then moves three
    steps on (as tests.support.mfa.enrolled does)."""
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=account.auth)
    assert enrol.status == 200, enrol.body
    user = await activate(api, clock, account, enrol.body["secret"])
    clock.advance(90)
    return user


@dataclass(frozen=True)
class Twin:
    """One email registered in two tenants: `a` in tenant `a_tenant`, `b` in `b_tenant`, each
    with its own password."""

    a_tenant: str
    b_tenant: str
    a: Account
    b: Account


def password_for(tenant: str) -> str:
    """A password of its own per tenant (long enough for any tenant's minimum)."""
    return f"{STRONG_PASSWORD} of {tenant}"


async def make_twin(world: World, direction: tuple[str, str]) -> Twin:
    """One new email registered in A and in B, with a password of its own in each."""
    a_name, b_name = direction
    email = unique_email()
    a = await register_in(world.at(a_name), email, password_for(a_name))
    b = await register_in(world.at(b_name), email, password_for(b_name))
    return Twin(a_name, b_name, a, b)


def same_answer(reply: Reply, expected: Reply) -> None:
    """`reply` tells nothing `expected` does not: the same status and body but the request id."""
    assert reply.status == expected.status, reply
    assert {**reply.body, "request_id": None} == {**expected.body, "request_id": None}


def link_token(sent: SentMail, app_url: str, path: str) -> str:
    """The token of the link to `app_url` + `path` in `sent` (text and HTML parts alike): the
    link must point at that app, so a mail with another tenant's links fails here."""
    pattern = re.escape(f"{app_url}{path}#token=") + r"([A-Za-z0-9_\-%]+)"
    found = re.search(pattern, sent.text)
    assert found is not None, (app_url, sent.text)
    assert found.group(0) in sent.html
    return found.group(1)
