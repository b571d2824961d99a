"""The lifecycle flows never log a token, a code or a password (issue 13): the log-secrets walk
of tests/integration/observability/test_logs.py, over every lifecycle endpoint and the mailer
that mints and sends their tokens, failures included."""

from __future__ import annotations

import re

import pytest

from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ClientWith
from tests.support.lifecycle import Mailer, code_of, token_of
from tests.support.logs import json_lines

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"


async def test_no_lifecycle_flow_logs_a_token_code_or_password(
    client_with: ClientWith,
    mailer: Mailer,
    lifecycle: dict[str, object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = ManualClock()
    new_password = "another secret passphrase 73"
    newer_password = "yet another secret phrase 58"
    capsys.readouterr()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)
        verification = mailer.sent_to(account.email)[0]
        code, verify_token = code_of(verification), token_of(verification, "/verify-email")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        await client.post(f"{V1}/email/verify", json={"email": account.email, "code": wrong})
        await client.post(f"{V1}/email/verify", json={"email": account.email, "code": code})
        await client.post(f"{V1}/email/verify", json={"token": verify_token})  # spent
        await client.post(f"{V1}/password/forgot", json={"email": account.email})
        await client.post(f"{V1}/password/forgot", json={"email": unique_email()})
        await mailer.run(clock)
        reset = token_of(mailer.sent_to(account.email)[-1], "/reset-password")
        await client.post(f"{V1}/password/reset", json={"token": reset, "new_password": "short"})
        await client.post(
            f"{V1}/password/reset", json={"token": reset, "new_password": new_password}
        )
        await client.post(
            f"{V1}/password/reset", json={"token": reset, "new_password": new_password}
        )
        login = await client.post(
            f"{V1}/login", json={"email": account.email, "password": new_password}
        )
        bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
        await client.post(
            f"{V1}/password/change",
            json={"current_password": new_password, "new_password": newer_password},
            headers=bearer,
        )
        new_email = unique_email()
        await client.post(
            f"{V1}/email/change",
            json={"new_email": new_email, "password": newer_password},
            headers=bearer,
        )
        await mailer.run(clock)
        change = token_of(mailer.sent_to(new_email)[0], "/confirm-email-change")
        await client.post(f"{V1}/email/change/confirm", json={"token": change})
        await client.post(
            f"{V1}/me/delete", json={"password": "not it " + newer_password}, headers=bearer
        )
        await client.post(f"{V1}/me/delete", json={"password": newer_password}, headers=bearer)
        await mailer.run(clock)

    output = capsys.readouterr().out
    lines = json_lines(output)
    assert any(line.get("message") == "account token refused" for line in lines)
    assert any(line.get("message") == "account deleted" for line in lines)
    # six digits may occur inside a request id or a duration by chance: the code on its own
    assert re.search(rf"(?<![0-9a-f.]){code}(?![0-9a-f])", output) is None
    for secret in (
        verify_token,
        reset,
        change,
        account.password,
        new_password,
        newer_password,
        login.body["access_token"],
    ):
        assert secret not in output, secret
    # and no address: the mailer logs ids and outcomes only
    assert new_email not in output
