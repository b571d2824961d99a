"""What MFA leaves in the database (issue 14): read straight from the tables."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pyotp
import pytest

from authapi.auth import mfa_service
from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import MFA, START, challenge_of, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock) as client:
        yield client


async def test_a_cut_after_activation_never_leaves_a_factor_without_recovery_codes(
    api: ApiClient,
    clock: ManualClock,
    test_database: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = await register(api)
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=account.auth)
    assert enrol.status == 200, enrol.body

    async def cut(*_: object, **__: object) -> None:
        raise ConnectionResetError("the connection drops after the factor's statement")

    monkeypatch.setattr(mfa_service, "_forgive", cut)  # the statement after the activation
    code = pyotp.TOTP(enrol.body["secret"]).at(clock.now().timestamp())
    verify = await api.post(f"{MFA}/totp/verify", json={"code": code}, headers=account.auth)
    assert verify.status == 503  # database_unavailable: the request did not finish
    user_id = uuid.UUID(account.user_id)
    active = await test_database.fetchval(
        "SELECT activated_at IS NOT NULL FROM mfa_factors WHERE user_id = $1", user_id
    )
    codes = await test_database.fetchval(
        "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1", user_id
    )
    # all or nothing: an active factor has its ten codes (and its session the mark)
    assert (active, codes) in {(True, 10), (False, 0)}, (active, codes)
    if active:
        amr = await test_database.fetchval(
            "SELECT amr FROM auth_sessions WHERE user_id = $1 AND mfa_at IS NOT NULL", user_id
        )
        assert amr is not None
        assert "otp" in amr.split()


async def test_a_challenge_whose_email_now_names_another_account_opens_no_session(
    api: ApiClient,
    clock: ManualClock,
    test_database: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await enrolled(api, clock)
    challenge = await challenge_of(api, user)
    count = mfa_service._count  # noqa: SLF001 (the seam this test cuts at)

    async def moved(*args: Any, **kwargs: Any) -> mfa_service.Counted:
        # the throttles' statement reads the account by email: as if it had changed hands
        return replace(await count(*args, **kwargs), user=None)

    monkeypatch.setattr(mfa_service, "_count", moved)
    user_id = uuid.UUID(user.account.user_id)
    before = await _sessions(test_database, user_id)
    reply = await api.post(
        f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
    )
    assert (reply.status, reply.code) == (401, "invalid_mfa_challenge")
    assert await _sessions(test_database, user_id) == before


async def _sessions(database: ScratchDatabase, user_id: uuid.UUID) -> int:
    count = await database.fetchval(
        "SELECT count(*) FROM auth_sessions WHERE user_id = $1", user_id
    )
    return int(count)


async def test_the_tables_hold_no_secret_and_no_recovery_code_in_the_clear(
    api: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    user = await enrolled(api, clock)
    user_id = uuid.UUID(user.account.user_id)
    factors = await test_database.fetch("SELECT * FROM mfa_factors WHERE user_id = $1", user_id)
    codes = await test_database.fetch(
        "SELECT * FROM mfa_recovery_codes WHERE user_id = $1", user_id
    )
    assert len(factors) == 1
    assert len(codes) == 10
    assert all(len(row["code_hmac"]) == 32 for row in codes)  # an HMAC-SHA-256, nothing more
    stored = [_stored(row) for row in (*factors, *codes)]
    secret = user.secret
    for secret_form in (secret.encode(), secret.lower().encode(), base64.b32decode(secret)):
        assert not any(secret_form in blob for blob in stored)
    for code in user.recovery_codes:
        bare = code.replace("-", "")
        for code_form in (code, bare, code.upper(), bare.upper()):
            assert not any(code_form.encode() in blob for blob in stored)


def _stored(row: Any) -> bytes:
    """Every column of a row as bytes: bytea as it is, the rest as text."""
    return b"\0".join(
        value if isinstance(value, bytes) else str(value).encode() for value in row.values()
    )
