"""MFA (issue 14): step-up, regenerating recovery codes, disabling, the step-up guard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import jwt
import pytest

from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import MFA, START, MfaAccount, challenge_of, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock) as client:
        yield client


async def _signed_in(api: ApiClient, clock: ManualClock, user: MfaAccount) -> dict[str, str]:
    reply = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "code": user.code(clock)},
    )
    assert reply.status == 200, reply.body
    clock.advance(30)  # the next code is a new step
    return {"Authorization": f"Bearer {reply.body['access_token']}"}


async def test_step_up_returns_a_token_with_a_fresh_second_factor(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    # a password-only token of the same account (registration's) can step up too
    clock.advance(600)
    reply = await api.post(
        f"{MFA}/step-up", json={"code": user.code(clock)}, headers=user.account.auth
    )
    assert reply.status == 200, reply.body
    claims = jwt.decode(reply.body["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["mfa_time"] == int(clock.now().timestamp())
    wrong = await api.post(
        f"{MFA}/step-up", json={"code": user.code(clock)}, headers=user.account.auth
    )
    assert (wrong.status, wrong.code) == (401, "invalid_mfa_code")  # the same code again


async def test_regenerate_replaces_the_recovery_codes(api: ApiClient, clock: ManualClock) -> None:
    user = await enrolled(api, clock)
    bearer = await _signed_in(api, clock, user)
    # a fresh second factor: the code the sign-in spent (one step ago) is refused
    replayed = {"code": user.code(clock, steps=-1)}
    refused = await api.post(f"{MFA}/recovery-codes", json=replayed, headers=bearer)
    assert (refused.status, refused.code) == (401, "invalid_mfa_code")
    reply = await api.post(f"{MFA}/recovery-codes", json={"code": user.code(clock)}, headers=bearer)
    assert reply.status == 200
    fresh = reply.body["recovery_codes"]
    assert len(fresh) == 10
    assert not set(fresh) & set(user.recovery_codes)
    old = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "recovery_code": user.recovery_codes[0]},
    )
    assert (old.status, old.code) == (401, "invalid_mfa_code")
    new = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "recovery_code": fresh[0]},
    )
    assert new.status == 200


async def test_disable_needs_password_and_a_factor_and_ends_other_sessions(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    bearer = await _signed_in(api, clock, user)
    body = {"password": "wrong password here", "code": user.code(clock)}
    refused = await api.post(f"{MFA}/disable", json=body, headers=bearer)
    assert (refused.status, refused.code) == (401, "invalid_credentials")
    body = {"password": user.account.password, "recovery_code": user.recovery_codes[1]}
    reply = await api.post(f"{MFA}/disable", json=body, headers=bearer)
    assert reply.status == 204
    # registration's session has ended; the caller's own goes on
    assert (await api.get("/api/v1/auth/me", headers=user.account.auth)).status == 401
    assert (await api.get("/api/v1/auth/me", headers=bearer)).status == 200
    login = await api.post("/api/v1/auth/login", json=user.account.credentials)
    assert login.status == 200  # tokens again: no factor any more


async def test_disable_needs_a_recent_second_factor_in_the_session(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    body = {"password": user.account.password, "code": user.code(clock)}
    # registration's token: a password only, though the request itself carries a code
    refused = await api.post(f"{MFA}/disable", json=body, headers=user.account.auth)
    assert (refused.status, refused.code) == (403, "mfa_required")
    assert "/api/v1/auth/mfa/step-up" in refused.body["detail"]
