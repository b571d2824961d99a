"""Administrators the tests make: an account with MFA, given the admin role, and its admin token
(asked for with a code given now)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.support.accounts import Account
from tests.support.clock import ManualClock
from tests.support.db import DirectReads
from tests.support.http import ApiClient
from tests.support.mfa import MFA, MfaAccount, enrolled, with_token

ADMIN = "/api/v1/admin"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Admin:
    user: MfaAccount
    token: str  # an admin token

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.user.account.user_id)

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.token)

    @property
    def account(self) -> Account:
        return self.user.account


async def grant_role(database: DirectReads, user_id: str | uuid.UUID, role: str = "admin") -> None:
    await database.execute(
        "UPDATE users SET role = $1 WHERE id = $2", role, uuid.UUID(str(user_id))
    )


async def stepped_up(api: ApiClient, clock: ManualClock, user: MfaAccount) -> Account:
    """The account seen through a token whose session just gave its second factor."""
    reply = await api.post(
        f"{MFA}/step-up", json={"code": user.code(clock)}, headers=user.account.auth
    )
    assert reply.status == 200, reply.body
    clock.advance(30)  # the next step-up's code is a step on, never a replay
    return with_token(user.account, reply.body["access_token"])


async def admin_token(
    api: ApiClient, clock: ManualClock, user: MfaAccount, account: Account | None = None
) -> str:
    """An admin token for `account`'s session (default: the user's own), with a code of the
    clock's current step; the clock then moves a step on, so the next code is never a replay."""
    reply = await api.post(
        f"{ADMIN}/token",
        json={"code": user.code(clock)},
        headers=(account or user.account).auth,
    )
    assert reply.status == 200, reply.body
    clock.advance(30)
    return str(reply.body["access_token"])


async def make_admin(api: ApiClient, clock: ManualClock, database: DirectReads) -> Admin:
    """A new account with MFA and the admin role, and an admin token of its session."""
    user = await enrolled(api, clock)
    await grant_role(database, user.account.user_id)
    return Admin(user=user, token=await admin_token(api, clock, user))
