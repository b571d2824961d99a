"""No MFA flow logs a TOTP secret, a code, a recovery code, a challenge or a password (issue 14):
every endpoint, its failures included, with the log lines captured as the app writes them."""

from __future__ import annotations

import re

import pytest

from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.http import ClientWith
from tests.support.logs import json_lines
from tests.support.mfa import LOGIN, MFA, START, activate

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


async def test_no_mfa_flow_logs_a_secret_code_recovery_code_or_challenge(
    client_with: ClientWith, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = ManualClock(START)
    capsys.readouterr()
    codes: list[str] = []
    async with client_with(clock=clock) as api:
        account = await register(api)
        auth = account.auth
        await api.post(f"{MFA}/totp", json={"password": "not the password at all"}, headers=auth)
        enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=auth)
        secret, uri = enrol.body["secret"], enrol.body["otpauth_uri"]
        user = await activate(api, clock, account, secret)
        codes.append(user.code(clock))
        # a wrong code, then the right one, answering a login's challenge
        clock.advance(60)
        login = await api.post(LOGIN, json=account.credentials)
        challenge = login.body["challenge"]
        wrong = f"{(int(user.code(clock)) + 1) % 1_000_000:06d}"
        codes.append(wrong)
        await api.post(f"{MFA}/challenge", json={"challenge": challenge, "code": wrong})
        codes.append(user.code(clock))
        signed_in = await api.post(
            f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
        )
        bearer = {"Authorization": f"Bearer {signed_in.body['access_token']}"}
        await api.post(f"{MFA}/challenge", json={"challenge": challenge, "code": wrong})  # spent
        second = (await api.post(LOGIN, json=account.credentials)).body["challenge"]
        await api.post(
            f"{MFA}/challenge", json={"challenge": second, "recovery_code": user.recovery_codes[0]}
        )
        await api.post(
            f"{MFA}/step-up", json={"recovery_code": user.recovery_codes[0]}, headers=bearer
        )  # spent
        clock.advance(30)
        codes.append(user.code(clock))
        stepped = await api.post(f"{MFA}/step-up", json={"code": user.code(clock)}, headers=bearer)
        clock.advance(30)
        codes.append(user.code(clock))
        regenerated = await api.post(
            f"{MFA}/recovery-codes", json={"code": user.code(clock)}, headers=bearer
        )
        fresh = regenerated.body["recovery_codes"]
        await api.post(
            f"{MFA}/disable",
            json={"password": "not the password at all", "recovery_code": fresh[0]},
            headers=bearer,
        )
        disabled = await api.post(
            f"{MFA}/disable",
            json={"password": account.password, "recovery_code": fresh[1]},
            headers=bearer,
        )
    assert disabled.status == 204, disabled.body

    output = capsys.readouterr().out
    messages = {line.get("message") for line in json_lines(output)}
    assert {"mfa enabled", "second factor refused", "mfa step-up", "mfa disabled"} <= messages
    for code in codes:
        # six digits may occur inside a request id or a duration by chance: the code on its own
        assert re.search(rf"(?<![0-9a-f.]){code}(?![0-9a-f])", output) is None, code
    recovery = [*user.recovery_codes, *fresh]
    for text in (
        secret,
        uri,
        enrol.body["qr_svg"][:200],
        challenge,
        second,
        account.password,
        signed_in.body["access_token"],
        signed_in.body["refresh_token"],
        stepped.body["access_token"],
        *recovery,
        *(code.replace("-", "") for code in recovery),
    ):
        assert text not in output, text
