"""MFA (issue 14): the step-up guard on the account lifecycle (password change, email change,
account deletion), and the second factors /me lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import MFA, START, activate, challenge_of, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"
NEW_PASSWORD = "a fresh passphrase for step-up 31"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_step_up_seconds=120) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_lifecycle_actions_need_a_recent_second_factor(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    password = user.account.password
    change = {"current_password": password, "new_password": NEW_PASSWORD}
    email = {"new_email": unique_email(), "password": password}
    # registration's token: a password only
    for path, body in (("password/change", change), ("email/change", email), ("me/delete", {})):
        reply = await api.post(
            f"{V1}/{path}", json=body or {"password": password}, headers=user.account.auth
        )
        assert (reply.status, reply.code) == (403, "mfa_required"), path
        assert "/api/v1/auth/mfa/step-up" in reply.body["detail"]
    stepped = await api.post(
        f"{MFA}/step-up", json={"code": user.code(clock)}, headers=user.account.auth
    )
    assert stepped.status == 200, stepped.body
    fresh = _bearer(stepped.body["access_token"])
    assert (await api.post(f"{V1}/password/change", json=change, headers=fresh)).status == 204
    # past the window, the same token is refused again, though still in date
    clock.advance(121)
    email["password"] = NEW_PASSWORD
    stale = await api.post(f"{V1}/email/change", json=email, headers=fresh)
    assert (stale.status, stale.code) == (403, "mfa_required")
    again = await api.post(
        f"{MFA}/step-up", json={"recovery_code": user.recovery_codes[0]}, headers=fresh
    )
    assert again.status == 200, again.body
    delete = await api.post(
        f"{V1}/me/delete",
        json={"password": NEW_PASSWORD},
        headers=_bearer(again.body["access_token"]),
    )
    assert delete.status == 204


async def test_a_sign_in_with_a_code_counts_as_a_recent_second_factor(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    signed_in = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "code": user.code(clock)},
    )
    assert signed_in.status == 200
    # refreshed within the window: the token still says when the factor was given
    clock.advance(60)
    refreshed = await api.post(
        f"{V1}/refresh-token", json={"refresh_token": signed_in.body["refresh_token"]}
    )
    body = {"current_password": user.account.password, "new_password": NEW_PASSWORD}
    reply = await api.post(
        f"{V1}/password/change", json=body, headers=_bearer(refreshed.body["access_token"])
    )
    assert reply.status == 204


async def test_an_account_without_mfa_needs_no_step_up(api: ApiClient) -> None:
    account = await register(api)
    body = {"current_password": account.password, "new_password": NEW_PASSWORD}
    assert (await api.post(f"{V1}/password/change", json=body, headers=account.auth)).status == 204


async def test_me_lists_the_factor_and_the_recovery_codes_left(
    api: ApiClient, clock: ManualClock
) -> None:
    account = await register(api)
    before = await api.get(f"{V1}/me", headers=account.auth)
    assert before.body["mfa"] == {"enabled": False, "factors": [], "recovery_codes_left": 0}
    enrolment = await api.post(
        f"{MFA}/totp", json={"password": account.password}, headers=account.auth
    )
    pending = await api.get(f"{V1}/me", headers=account.auth)
    assert pending.body["mfa"]["enabled"] is False  # not until verified
    assert enrolment.status == 200
    user = await activate(api, clock, account, enrolment.body["secret"])
    me = await api.get(f"{V1}/me", headers=account.auth)
    factor = me.body["mfa"]["factors"][0]
    assert me.body["mfa"]["enabled"] is True
    assert me.body["mfa"]["recovery_codes_left"] == 10
    assert factor["type"] == "totp"
    assert _at(factor["created_at"]) == START
    verify_step = int(START.timestamp()) // 30 * 30
    assert _at(factor["last_used_at"]) == datetime.fromtimestamp(verify_step, tz=UTC)
    clock.advance(600)
    used = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "recovery_code": user.recovery_codes[0]},
    )
    assert used.status == 200
    after = await api.get(f"{V1}/me", headers=account.auth)
    assert after.body["mfa"]["recovery_codes_left"] == 9
    assert _at(after.body["mfa"]["factors"][0]["last_used_at"]) == clock.now()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
