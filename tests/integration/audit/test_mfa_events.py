"""The MFA flows' audit rows (issue 17): each written by the statement that makes the change (or
that counts the refused code), with the request's facts and no code, secret or token."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pyotp
import pytest

from authapi.config import Settings
from tests.support.accounts import register
from tests.support.audit_flows import USER_AGENT, assert_event, events_of, only_event
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith, Reply, unique_client_ip
from tests.support.mfa import LOGIN, MFA, START, MfaAccount, challenge_of, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

AGENT = {"User-Agent": USER_AGENT}
NOT_A_RECOVERY_CODE = "aaaa-bbbb-cccc-dddd"


def _wrong(right: str) -> str:
    return "000000" if right != "000000" else "111111"


def _session_of(access_token: str) -> uuid.UUID:
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return uuid.UUID(claims["sid"])


async def test_every_mfa_flow_records_its_events(
    client_with: ClientWith, settings: Settings, test_database: ScratchDatabase
) -> None:
    clock, ip = ManualClock(START), unique_client_ip()
    async with client_with(clock=clock, client_ip=ip) as api:
        account = await register(api)
        bearer = {**account.auth, **AGENT}
        user_id, session_id = account.user_id, account.session_id
        enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=bearer)
        assert enrol.status == 200
        secret = enrol.body["secret"]
        secrets: tuple[str, ...] = (account.password, account.email, account.access_token, secret)
        assert_event(
            await only_event(test_database, enrol),
            enrol,
            type="mfa.enrolment_started",
            user_id=user_id,
            ip=ip,
            session_id=session_id,
            details={"factor": "totp"},
            secrets=secrets,
        )

        code = str(pyotp.TOTP(secret).at(clock.now().timestamp()))
        verify = await api.post(f"{MFA}/totp/verify", json={"code": code}, headers=bearer)
        assert verify.status == 200
        recovery = verify.body["recovery_codes"]
        secrets += (*recovery, verify.body["access_token"])
        assert_event(
            await only_event(test_database, verify),
            verify,
            type="mfa.enabled",
            user_id=user_id,
            ip=ip,
            session_id=session_id,
            details={"factor": "totp"},
            secrets=(*secrets, code),
        )
        user = MfaAccount(account, secret, recovery)
        clock.advance(90)

        # the login's challenge: a wrong code (refused before any statement: recorded with
        # the count), a wrong recovery code (refused by the spend: recorded with it), then one
        challenge = await challenge_of(api, user)
        secrets += (challenge,)
        wrong_code = _wrong(user.code(clock))
        failures = [
            {"code": wrong_code},
            {"recovery_code": NOT_A_RECOVERY_CODE},
        ]
        for factor, method in zip(failures, ("otp", "recovery_code"), strict=True):
            answer = {"challenge": challenge, **factor}
            refused = await api.post(f"{MFA}/challenge", json=answer, headers=AGENT)
            assert (refused.status, refused.code) == (401, "invalid_mfa_code")
            failed = await only_event(test_database, refused)
            assert_event(
                failed,
                refused,
                type="mfa.challenge_failed",
                user_id=user_id,
                ip=ip,
                details={"stage": "login", "method": method},
                secrets=(*secrets, wrong_code, NOT_A_RECOVERY_CODE),
            )
            assert failed["session_id"] is None
        answer = {"challenge": challenge, "recovery_code": recovery[0]}
        signed_in = await api.post(f"{MFA}/challenge", json=answer, headers=AGENT)
        assert signed_in.status == 200
        tokens = (signed_in.body["access_token"], signed_in.body["refresh_token"])
        succeeded, used = await events_of(test_database, signed_in)
        assert_event(
            succeeded,
            signed_in,
            type="login.succeeded",
            user_id=user_id,
            ip=ip,
            session_id=_session_of(tokens[0]),
            details={
                "method": "password+recovery_code",
                "amr": ["pwd", "recovery_code"],
                "new_device": True,  # the login sent no device token
            },
            secrets=(*secrets, *tokens),
        )
        assert succeeded["client_id"] == settings.default_client_id
        assert_event(
            used,
            signed_in,
            type="mfa.recovery_code_used",
            user_id=user_id,
            ip=ip,
            details={"stage": "login"},
            secrets=(*secrets, *tokens),
        )

        wrong_step = _wrong(user.code(clock))
        refused = await api.post(f"{MFA}/step-up", json={"code": wrong_step}, headers=bearer)
        assert refused.status == 401
        assert_event(
            await only_event(test_database, refused),
            refused,
            type="mfa.challenge_failed",
            user_id=user_id,
            ip=ip,
            session_id=session_id,
            details={"stage": "step_up", "method": "otp"},
            secrets=(*secrets, wrong_step),
        )
        step_code = user.code(clock)
        stepped = await api.post(f"{MFA}/step-up", json={"code": step_code}, headers=bearer)
        assert stepped.status == 200
        fresh = {"Authorization": f"Bearer {stepped.body['access_token']}", **AGENT}
        secrets += (stepped.body["access_token"],)
        assert_event(
            await only_event(test_database, stepped),
            stepped,
            type="mfa.step_up",
            user_id=user_id,
            ip=ip,
            session_id=session_id,
            details={"method": "otp"},
            secrets=(*secrets, step_code),
        )

        clock.advance(30)
        regenerate_code = user.code(clock)
        regenerated = await api.post(
            f"{MFA}/recovery-codes", json={"code": regenerate_code}, headers=fresh
        )
        assert regenerated.status == 200
        new_codes = regenerated.body["recovery_codes"]
        assert_event(
            await only_event(test_database, regenerated),
            regenerated,
            type="mfa.recovery_codes_regenerated",
            user_id=user_id,
            ip=ip,
            session_id=session_id,
            details={"count": 10},
            secrets=(*secrets, regenerate_code, *new_codes),
        )

        off = {"password": account.password, "recovery_code": new_codes[0]}
        disabled = await api.post(f"{MFA}/disable", json=off, headers=fresh)
        assert disabled.status == 204
        removed, spent = await events_of(test_database, disabled)
        for row, type, details in (
            (removed, "mfa.disabled", {"method": "recovery_code"}),
            (spent, "mfa.recovery_code_used", {"stage": "disable"}),
        ):
            assert_event(
                row,
                disabled,
                type=type,
                user_id=user_id,
                ip=ip,
                session_id=session_id,
                details=details,
                secrets=(*secrets, *new_codes),
            )


async def test_a_code_refused_with_429_is_counted_not_audited(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    clock = ManualClock(START)
    async with client_with(clock=clock, login_max_failures=2) as api:
        user = await enrolled(api, clock)
        wrong = {"code": _wrong(user.code(clock))}
        statuses = []
        for _ in range(3):
            reply = await api.post(f"{MFA}/step-up", json=wrong, headers=user.account.auth)
            statuses.append(reply.status)
            rows = await events_of(test_database, reply)
            assert [row["type"] for row in rows] == (
                ["mfa.challenge_failed"] if reply.status == 401 else []
            )
        assert statuses == [401, 401, 429]


async def _login_succeeded(database: ScratchDatabase, reply: Reply) -> dict[str, Any]:
    """The details of the request's login.succeeded."""
    assert reply.status == 200, reply.body
    (event,) = [row for row in await events_of(database, reply) if row["type"] == "login.succeeded"]
    details: dict[str, Any] = json.loads(event["details"])
    return details


async def test_a_login_through_the_challenge_says_new_device_as_a_password_login_does(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    clock = ManualClock(START)
    async with client_with(clock=clock) as api:
        # the password-only path: a first sign-in from a device, then one with its device token
        plain = await register(api)
        first = await api.post(LOGIN, json=plain.credentials)
        again = await api.post(
            LOGIN, json={**plain.credentials, "device_token": first.body["device_token"]}
        )
        password_path = [
            (await _login_succeeded(test_database, reply))["new_device"] for reply in (first, again)
        ]

        # the challenge path: the same two sign-ins, each answered with a code
        user = await enrolled(api, clock)
        challenge_path = []
        device_token: str | None = None
        for _ in range(2):
            credentials = dict(user.account.credentials)
            if device_token is not None:
                credentials["device_token"] = device_token
            challenged = await api.post(LOGIN, json=credentials)
            assert challenged.status == 202, challenged.body
            answer = {"challenge": challenged.body["challenge"], "code": user.code(clock)}
            signed_in = await api.post(f"{MFA}/challenge", json=answer)
            details = await _login_succeeded(test_database, signed_in)
            assert details["method"] == "password+otp"
            challenge_path.append(details["new_device"])
            device_token = signed_in.body["device_token"]
            clock.advance(30)  # the next code is of another step: no replay

    assert password_path == challenge_path == [True, False]


async def test_a_challenge_whose_device_marker_was_changed_is_refused(
    client_with: ClientWith,
) -> None:
    # the marker is part of the token its hash was taken of: a client claiming a known device
    # for a new one's challenge holds a challenge that does not exist
    clock = ManualClock(START)
    async with client_with(clock=clock) as api:
        user = await enrolled(api, clock)
        challenge = await challenge_of(api, user)
        assert challenge.endswith("n")
        forged = {"challenge": challenge[:-1] + "k", "code": user.code(clock)}
        refused = await api.post(f"{MFA}/challenge", json=forged)
        assert (refused.status, refused.code) == (401, "invalid_mfa_challenge")
        answer = {"challenge": challenge, "code": user.code(clock)}
        assert (await api.post(f"{MFA}/challenge", json=answer)).status == 200
