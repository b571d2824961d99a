"""An account with MFA, and the codes its authenticator would show at the test clock's time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pyotp

from tests.support.accounts import Account, register
from tests.support.clock import ManualClock
from tests.support.http import ApiClient

MFA = "/api/v1/auth/mfa"
LOGIN = "/api/v1/auth/login"
# mid-step (second 15 of a 30 s step): one step either side is a clean +-30 s
START = datetime(2026, 12, 3, 12, 0, 15, tzinfo=UTC)


@dataclass(frozen=True)
class MfaAccount:
    account: Account
    secret: str
    recovery_codes: list[str]
    verified: dict[str, object] = field(default_factory=dict)  # verify's answer

    def code(self, clock: ManualClock, *, steps: int = 0) -> str:
        return str(pyotp.TOTP(self.secret).at(clock.now().timestamp() + 30 * steps))


async def enrolled(api: ApiClient, clock: ManualClock) -> MfaAccount:
    """A new account with an active authenticator; the clock then moves three steps on, so
    a code of one or two steps before "now" is refused for drift alone, not as a replay of the
    step the enrolment spent."""
    account = await register(api)
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=account.auth)
    assert enrol.status == 200, enrol.body
    user = await activate(api, clock, account, enrol.body["secret"])
    clock.advance(90)
    return user


async def activate(api: ApiClient, clock: ManualClock, account: Account, secret: str) -> MfaAccount:
    """Verify an enrolment with the code of the clock's current step."""
    code = str(pyotp.TOTP(secret).at(clock.now().timestamp()))
    verify = await api.post(f"{MFA}/totp/verify", json={"code": code}, headers=account.auth)
    assert verify.status == 200, verify.body
    return MfaAccount(account, secret, verify.body["recovery_codes"], dict(verify.body))


def with_token(account: Account, access_token: str) -> Account:
    """The same account, seen through another session's access token."""
    return replace(account, access_token=access_token)


async def challenge_of(api: ApiClient, user: MfaAccount) -> str:
    reply = await api.post(LOGIN, json=user.account.credentials)
    assert reply.status == 202, reply.body
    return str(reply.body["challenge"])
