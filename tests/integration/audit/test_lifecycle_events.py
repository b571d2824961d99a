"""The account lifecycle's audit rows (issue 17): each written by the statement that makes the
change, with the request's facts and nothing secret; none for a refused or throttled request."""

from __future__ import annotations

import pytest

from authapi.config import Settings
from authapi.signing.keys import DataKeys
from authapi.users import account_tokens
from tests.support.accounts import register, unique_email
from tests.support.audit_flows import USER_AGENT, assert_event, events_of, mint_token, only_event
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith, unique_client_ip
from tests.support.settings import SESSION_DATA_KEYS

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"
NEW_PASSWORD = "a brand new passphrase 42"
AGENT = {"User-Agent": USER_AGENT}
DATA_KEYS = DataKeys.parse(SESSION_DATA_KEYS)


async def test_password_change_forgot_and_reset(
    client_with: ClientWith, settings: Settings, test_database: ScratchDatabase
) -> None:
    clock, ip = ManualClock(), unique_client_ip()
    async with client_with(clock=clock, client_ip=ip) as client:
        account = await register(client)
        bearer = {**account.auth, **AGENT}
        secrets = (account.password, NEW_PASSWORD, account.email, account.access_token)

        wrong = {"current_password": "not it at all 12", "new_password": NEW_PASSWORD}
        refused = await client.post(f"{V1}/password/change", json=wrong, headers=bearer)
        assert refused.status == 403
        assert await events_of(test_database, refused) == []
        change = {"current_password": account.password, "new_password": NEW_PASSWORD}
        changed = await client.post(f"{V1}/password/change", json=change, headers=bearer)
        assert changed.status == 204
        assert_event(
            await only_event(test_database, changed),
            changed,
            type="password.changed",
            user_id=account.user_id,
            ip=ip,
            session_id=account.session_id,
            details={},
            secrets=secrets,
        )

        # the flow never looks the address up: the row names no account, whoever has it
        forgot = await client.post(
            f"{V1}/password/forgot", json={"email": account.email}, headers=AGENT
        )
        assert forgot.status == 202
        requested = await only_event(test_database, forgot)
        assert_event(
            requested,
            forgot,
            type="password.reset_requested",
            user_id=None,
            ip=ip,
            details={},
            secrets=secrets,
        )
        assert requested["session_id"] is None
        throttled = await client.post(
            f"{V1}/password/forgot", json={"email": account.email}, headers=AGENT
        )
        assert throttled.status == 429  # counted by the address's throttle, not audited
        assert await events_of(test_database, throttled) == []

        minted = await mint_token(
            settings,
            DATA_KEYS,
            account_id=account.user_id,
            email=account.email,
            purpose=account_tokens.PASSWORD_RESET,
            now=clock.now(),
        )
        body = {"token": minted.token, "new_password": NEW_PASSWORD + " again"}
        reset = await client.post(f"{V1}/password/reset", json=body, headers=AGENT)
        assert reset.status == 204
        assert_event(
            await only_event(test_database, reset),
            reset,
            type="password.reset",
            user_id=account.user_id,
            ip=ip,
            details={},
            secrets=(*secrets, minted.token, NEW_PASSWORD + " again"),
        )
        spent = await client.post(f"{V1}/password/reset", json=body, headers=AGENT)
        assert spent.status == 400
        assert await events_of(test_database, spent) == []


async def test_verification_email_change_and_deletion(
    client_with: ClientWith, settings: Settings, test_database: ScratchDatabase
) -> None:
    clock, ip = ManualClock(), unique_client_ip()
    async with client_with(clock=clock, client_ip=ip) as client:
        account = await register(client)
        secrets = (account.password, account.email, account.access_token)

        link = await mint_token(
            settings,
            DATA_KEYS,
            account_id=account.user_id,
            email=account.email,
            purpose=account_tokens.EMAIL_VERIFICATION,
            now=clock.now(),
        )
        verified = await client.post(
            f"{V1}/email/verify", json={"token": link.token}, headers=AGENT
        )
        assert verified.status == 204
        assert_event(
            await only_event(test_database, verified),
            verified,
            type="email.verified",
            user_id=account.user_id,
            ip=ip,
            details={"method": "link"},
            secrets=(*secrets, link.token),
        )

        other = await register(client)
        coded = await mint_token(
            settings,
            DATA_KEYS,
            account_id=other.user_id,
            email=other.email,
            purpose=account_tokens.EMAIL_VERIFICATION,
            now=clock.now(),
            with_code=True,
        )
        assert coded.code is not None
        wrong_code = "000000" if coded.code != "000000" else "111111"
        tried = {"email": other.email, "code": wrong_code}
        wrong = await client.post(f"{V1}/email/verify", json=tried, headers=AGENT)
        assert wrong.status == 400
        assert await events_of(test_database, wrong) == []
        right = {"email": other.email, "code": coded.code}
        by_code = await client.post(f"{V1}/email/verify", json=right, headers=AGENT)
        assert by_code.status == 204
        assert_event(
            await only_event(test_database, by_code),
            by_code,
            type="email.verified",
            user_id=other.user_id,
            ip=ip,
            details={"method": "code"},
            secrets=(other.email, other.password, coded.token),
        )

        new_email = unique_email()
        bearer = {**account.auth, **AGENT}
        ask = {"new_email": new_email, "password": account.password}
        requested = await client.post(f"{V1}/email/change", json=ask, headers=bearer)
        assert requested.status == 202
        assert_event(
            await only_event(test_database, requested),
            requested,
            type="email.change_requested",
            user_id=account.user_id,
            ip=ip,
            session_id=account.session_id,
            details={},
            secrets=(*secrets, new_email),
        )

        confirmation = await mint_token(
            settings,
            DATA_KEYS,
            account_id=account.user_id,
            email=account.email,
            purpose=account_tokens.EMAIL_CHANGE,
            now=clock.now(),
            new_email=new_email,
        )
        confirmed = await client.post(
            f"{V1}/email/change/confirm", json={"token": confirmation.token}, headers=AGENT
        )
        assert confirmed.status == 204
        assert_event(
            await only_event(test_database, confirmed),
            confirmed,
            type="email.changed",
            user_id=account.user_id,
            ip=ip,
            details={},
            secrets=(*secrets, new_email, confirmation.token),
        )

        deleted = await client.post(
            f"{V1}/me/delete", json={"password": account.password}, headers=bearer
        )
        assert deleted.status == 204
        assert_event(
            await only_event(test_database, deleted),
            deleted,
            type="account.deleted",
            user_id=account.user_id,
            ip=ip,
            session_id=account.session_id,
            details={},
            secrets=(*secrets, new_email),
        )
        # the trail outlives the account (no foreign key): its whole history is still there
        history = await test_database.fetch(
            "SELECT type FROM audit_events WHERE user_id = $1::uuid", account.user_id
        )
        assert {"email.verified", "email.changed", "account.deleted"} <= {
            row["type"] for row in history
        }
