"""MFA (issue 14) on real PostgreSQL with a moving clock: enrol, login challenge, TOTP rules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import jwt
import pytest

from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import LOGIN, MFA, START, MfaAccount, challenge_of, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock) as client:
        yield client


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_enrol_needs_the_password_and_gives_a_160_bit_secret_and_qr(api: ApiClient) -> None:
    account = await register(api)
    wrong = await api.post(f"{MFA}/totp", json={"password": "not it at all"}, headers=account.auth)
    assert (wrong.status, wrong.code) == (401, "invalid_credentials")
    reply = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=account.auth)
    assert reply.status == 200
    assert len(reply.body["secret"]) * 5 >= 160
    assert reply.body["otpauth_uri"].startswith("otpauth://totp/")
    assert "issuer=authapi" in reply.body["otpauth_uri"]
    assert reply.body["qr_svg"].startswith("<svg")
    # nothing active until verified: login still answers tokens
    login = await api.post(LOGIN, json=account.credentials)
    assert login.status == 200


async def test_verify_activates_and_login_then_answers_a_challenge(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)
    assert len(user.recovery_codes) == 10
    assert len(set(user.recovery_codes)) == 10
    login = await api.post(LOGIN, json=user.account.credentials)
    assert login.status == 202
    assert set(login.body) == {"mfa_required", "challenge", "expires_in", "factors"}
    assert login.body["expires_in"] == 300
    reply = await api.post(
        f"{MFA}/challenge", json={"challenge": login.body["challenge"], "code": user.code(clock)}
    )
    assert reply.status == 200, reply.body
    claims = _claims(reply.body["access_token"])
    assert claims["amr"] == ["pwd", "otp"]
    assert (claims["acr"], claims["aal"]) == ("urn:authapi:aal2", 2)
    me = await api.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {reply.body['access_token']}"}
    )
    assert me.status == 200
    # single use: the same challenge again is refused, even with a fresh code
    clock.advance(30)
    again = await api.post(
        f"{MFA}/challenge", json={"challenge": login.body["challenge"], "code": user.code(clock)}
    )
    assert (again.status, again.code) == (401, "invalid_mfa_challenge")


async def test_password_only_tokens_say_aal1(api: ApiClient) -> None:
    account = await register(api)
    claims = _claims(account.access_token)
    assert (claims["amr"], claims["acr"]) == (["pwd"], "urn:authapi:aal1")


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
async def test_drift_one_step_either_side_only(
    api: ApiClient, clock: ManualClock, steps: int, accepted: bool
) -> None:
    user = await enrolled(api, clock)
    challenge = await challenge_of(api, user)
    reply = await api.post(
        f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock, steps=steps)}
    )
    assert reply.status == (200 if accepted else 401), reply.body


async def test_a_code_is_never_accepted_twice(api: ApiClient, clock: ManualClock) -> None:
    user = await enrolled(api, clock)
    code = user.code(clock)
    first = await api.post(
        f"{MFA}/challenge", json={"challenge": await challenge_of(api, user), "code": code}
    )
    assert first.status == 200
    replay = await api.post(
        f"{MFA}/challenge", json={"challenge": await challenge_of(api, user), "code": code}
    )
    assert (replay.status, replay.code) == (401, "invalid_mfa_code")
    # nor an earlier step's code, still inside the drift window
    earlier = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "code": user.code(clock, steps=-1)},
    )
    assert earlier.status == 401


async def test_a_recovery_code_works_once(api: ApiClient, clock: ManualClock) -> None:
    user = await enrolled(api, clock)
    code = user.recovery_codes[3]
    first = await api.post(
        f"{MFA}/challenge", json={"challenge": await challenge_of(api, user), "recovery_code": code}
    )
    assert first.status == 200
    assert _claims(first.body["access_token"])["amr"] == ["pwd", "recovery_code"]
    second = await api.post(
        f"{MFA}/challenge", json={"challenge": await challenge_of(api, user), "recovery_code": code}
    )
    assert (second.status, second.code) == (401, "invalid_mfa_code")


async def test_the_challenge_expires_after_five_minutes(api: ApiClient, clock: ManualClock) -> None:
    user = await enrolled(api, clock)
    challenge = await challenge_of(api, user)
    clock.advance(301)
    reply = await api.post(
        f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
    )
    assert (reply.status, reply.code) == (401, "invalid_mfa_challenge")


async def test_a_challenge_takes_at_most_five_codes(
    client_with: ClientWith, clock: ManualClock
) -> None:
    # throttles far off: what refuses the sixth code is the challenge's own limit
    async with client_with(
        clock=clock, login_max_failures=50, login_account_max_failures=50
    ) as api:
        user = await enrolled(api, clock)
        challenge = await challenge_of(api, user)
        wrong = "000000" if user.code(clock) != "000000" else "111111"
        for _ in range(5):
            reply = await api.post(f"{MFA}/challenge", json={"challenge": challenge, "code": wrong})
            assert (reply.status, reply.code) == (401, "invalid_mfa_code")
        sixth = await api.post(
            f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
        )
        assert (sixth.status, sixth.code) == (401, "invalid_mfa_challenge")
        # the account is not locked: a new challenge takes the same code
        fresh = await api.post(
            f"{MFA}/challenge",
            json={"challenge": await challenge_of(api, user), "code": user.code(clock)},
        )
        assert fresh.status == 200, fresh.body


async def test_a_wrong_recovery_code_leaves_the_challenge_answerable(
    client_with: ClientWith, clock: ManualClock
) -> None:
    async with client_with(clock=clock) as api:
        user = await enrolled(api, clock)
        challenge = await challenge_of(api, user)
        wrong = await api.post(
            f"{MFA}/challenge",
            json={"challenge": challenge, "recovery_code": "aaaa-bbbb-cccc-dddd"},
        )
        assert (wrong.status, wrong.code) == (401, "invalid_mfa_code")
        right = await api.post(
            f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
        )
        assert right.status == 200, right.body


async def test_wrong_codes_lock_the_account_like_wrong_passwords(
    client_with: ClientWith, clock: ManualClock
) -> None:
    async with client_with(clock=clock, login_max_failures=3) as api:
        user = await enrolled(api, clock)
        challenge = await challenge_of(api, user)  # its pair keeps the attempt until answered
        wrong = "000000" if user.code(clock) != "000000" else "111111"
        statuses = []
        for _ in range(3):
            reply = await api.post(f"{MFA}/challenge", json={"challenge": challenge, "code": wrong})
            statuses.append(reply.status)
        assert statuses[-1] == 429, statuses
        # the right code is refused too while the lock holds
        right = await api.post(
            f"{MFA}/challenge",
            json={
                "challenge": await _challenge_or_none(api, user) or challenge,
                "code": user.code(clock),
            },
        )
        assert right.status == 429


async def _challenge_or_none(api: ApiClient, user: MfaAccount) -> str | None:
    reply = await api.post(LOGIN, json=user.account.credentials)
    return str(reply.body["challenge"]) if reply.status == 202 else None


async def test_the_oauth_password_grant_refuses_an_mfa_account(
    client_with: ClientWith, clock: ManualClock
) -> None:
    from tests.support.oauth import OAUTH_SETTINGS, PUBLIC_CLIENT

    async with client_with(clock=clock, **OAUTH_SETTINGS) as api:
        user = await enrolled(api, clock)
        reply = await api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "password",
                "username": user.account.email,
                "password": user.account.password,
                "client_id": PUBLIC_CLIENT,
            },
        )
        assert (reply.status, reply.body["error"]) == (400, "invalid_grant")
        assert reply.body["error_description"] == "mfa_required"


async def test_refreshed_tokens_keep_the_second_factor(api: ApiClient, clock: ManualClock) -> None:
    user = await enrolled(api, clock)
    signed_in = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "code": user.code(clock)},
    )
    clock.advance(60)
    refreshed = await api.post(
        "/api/v1/auth/refresh-token", json={"refresh_token": signed_in.body["refresh_token"]}
    )
    assert refreshed.status == 200
    before, after = _claims(signed_in.body["access_token"]), _claims(refreshed.body["access_token"])
    for claim in ("amr", "acr", "aal", "auth_time", "mfa_time"):
        assert after[claim] == before[claim], claim


async def test_correct_mfa_logins_never_slow_the_account_down(
    client_with: ClientWith, clock: ManualClock
) -> None:
    # a right password and a right code leave no attempt counted: more logins in a row than the
    # account-wide limit never slow the owner down (nor the pair lock them out)
    limits = {"login_account_max_failures": 3, "login_account_check_interval_seconds": 600}
    async with client_with(clock=clock, login_max_failures=3, **limits) as api:
        user = await enrolled(api, clock)
        for _ in range(6):
            challenge = await challenge_of(api, user)
            reply = await api.post(
                f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
            )
            assert reply.status == 200, reply.body
            clock.advance(30)


async def test_mfa_tokens_carry_email_verified_like_a_password_login(
    client_with: ClientWith, clock: ManualClock
) -> None:
    async with client_with(clock=clock) as api:
        user = await enrolled(api, clock)
        step_up = await api.post(
            f"{MFA}/step-up", json={"code": user.code(clock)}, headers=user.account.auth
        )
        assert step_up.status == 200, step_up.body
        challenge = await challenge_of(api, user)
        clock.advance(30)
        answered = await api.post(
            f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
        )
        assert answered.status == 200, answered.body
    # a sign-in without a second factor (register's, before enrolment) says it: so do MFA's
    expected = _claims(user.account.access_token)["email_verified"]
    assert _claims(answered.body["access_token"])["email_verified"] == expected
    assert _claims(step_up.body["access_token"])["email_verified"] == expected
