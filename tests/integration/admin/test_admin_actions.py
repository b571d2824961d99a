"""The admin API's actions on accounts (issue 17): each one's effect, and its audit row naming
the administrator, written by the same statement."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.accounts import Account, register, unique_email
from tests.support.admin import ADMIN, Admin, make_admin
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import START, enrolled

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_step_up_seconds=300) as client:
        yield client


@pytest.fixture
async def admin(api: ApiClient, clock: ManualClock, test_database: ScratchDatabase) -> Admin:
    return await make_admin(api, clock, test_database)


async def _audit_rows(database: ScratchDatabase, user_id: str, kind: str) -> list[Any]:
    return await database.fetch(
        "SELECT actor_kind, actor_id, user_id FROM audit_events WHERE user_id = $1 AND type = $2",
        uuid.UUID(user_id),
        kind,
    )


async def _assert_audited(database: ScratchDatabase, admin: Admin, user_id: str, kind: str) -> None:
    [row] = await _audit_rows(database, user_id, kind)
    assert (row["actor_kind"], row["actor_id"]) == ("admin", admin.id)
    queued = await database.fetchval(
        "SELECT count(*) FROM event_outbox o JOIN audit_events e ON e.id = o.event_id "
        "WHERE e.user_id = $1 AND e.type = $2",
        uuid.UUID(user_id),
        kind,
    )
    assert queued == 1


async def _refresh(api: ApiClient, account: Account) -> int:
    reply = await api.post(f"{V1}/refresh-token", json={"refresh_token": account.refresh_token})
    return reply.status


async def test_disabling_ends_every_session_at_once_and_enabling_revives_none(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    second = await api.post(f"{V1}/login", json=user.credentials)
    assert second.status == 200
    disabled = await api.post(f"{ADMIN}/users/{user.user_id}/disable", headers=admin.auth)
    assert disabled.status == 204, disabled.body
    assert await _refresh(api, user) == 401
    refused = await api.post(
        f"{V1}/refresh-token", json={"refresh_token": second.body["refresh_token"]}
    )
    assert (refused.status, refused.code) == (401, "invalid_refresh_token")
    assert (await api.get(f"{V1}/me", headers=user.auth)).status == 401
    login = await api.post(f"{V1}/login", json=user.credentials)
    assert (login.status, login.code) == (401, "invalid_credentials")
    ended = await test_database.fetch(
        "SELECT revoke_reason FROM auth_sessions WHERE user_id = $1", uuid.UUID(user.user_id)
    )
    assert [row["revoke_reason"] for row in ended] == ["account_disabled"] * 2
    shown = await api.get(f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
    assert (shown.body["status"], shown.body["is_active"]) == ("disabled", False)
    await _assert_audited(test_database, admin, user.user_id, "admin.user_disabled")

    enabled = await api.post(f"{ADMIN}/users/{user.user_id}/enable", headers=admin.auth)
    assert enabled.status == 204
    assert await _refresh(api, user) == 401  # the old sessions stay ended
    assert (await api.post(f"{V1}/login", json=user.credentials)).status == 200
    await _assert_audited(test_database, admin, user.user_id, "admin.user_enabled")


async def test_force_logout_ends_every_session(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    other = await api.post(f"{V1}/login", json=user.credentials)
    reply = await api.post(f"{ADMIN}/users/{user.user_id}/logout", headers=admin.auth)
    assert reply.status == 204
    assert await _refresh(api, user) == 401
    assert (
        await api.post(f"{V1}/refresh-token", json={"refresh_token": other.body["refresh_token"]})
    ).status == 401
    assert (await api.get(f"{V1}/me", headers=user.auth)).status == 401
    # the account itself is untouched: it signs in again
    assert (await api.post(f"{V1}/login", json=user.credentials)).status == 200
    await _assert_audited(test_database, admin, user.user_id, "admin.user_logged_out")


async def test_deleting_an_account_keeps_its_history(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    reply = await api.request("DELETE", f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
    assert reply.status == 204
    gone = await api.get(f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
    assert (gone.status, gone.code) == (404, "user_not_found")
    assert await _refresh(api, user) == 401
    assert (await api.post(f"{V1}/login", json=user.credentials)).status == 401
    await _assert_audited(test_database, admin, user.user_id, "admin.user_deleted")
    again = await api.request("DELETE", f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
    assert (again.status, again.code) == (404, "user_not_found")
    assert len(await _audit_rows(test_database, user.user_id, "admin.user_deleted")) == 1


async def test_resetting_mfa_removes_the_factor_and_its_codes_and_ends_sessions(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await enrolled(api, clock)
    account = user.account
    assert (await api.post(f"{V1}/login", json=account.credentials)).status == 202  # a challenge
    reply = await api.post(f"{ADMIN}/users/{account.user_id}/mfa/reset", headers=admin.auth)
    assert reply.status == 204
    for table in ("mfa_factors", "mfa_recovery_codes"):
        left = await test_database.fetchval(
            f"SELECT count(*) FROM {table} WHERE user_id = $1",  # noqa: S608 (a constant)
            uuid.UUID(account.user_id),
        )
        assert left == 0, table
    assert await _refresh(api, account) == 401
    signed_in = await api.post(f"{V1}/login", json=account.credentials)
    assert signed_in.status == 200  # a password alone again
    await _assert_audited(test_database, admin, account.user_id, "admin.mfa_reset")
    again = await api.post(f"{ADMIN}/users/{account.user_id}/mfa/reset", headers=admin.auth)
    assert (again.status, again.code) == (409, "mfa_not_enrolled")
    assert len(await _audit_rows(test_database, account.user_id, "admin.mfa_reset")) == 1
    # nothing ended by the refusal: the new session still refreshes
    assert (
        await api.post(
            f"{V1}/refresh-token", json={"refresh_token": signed_in.body["refresh_token"]}
        )
    ).status == 200


async def test_resending_verification_queues_the_mail_for_an_unverified_account(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    account_id = uuid.UUID(user.user_id)
    before = await test_database.fetchval(
        "SELECT count(*) FROM mail_outbox WHERE account_id = $1 AND kind = 'email_verification'",
        account_id,
    )
    reply = await api.post(f"{ADMIN}/users/{user.user_id}/verification/resend", headers=admin.auth)
    assert reply.status == 202, reply.body
    after = await test_database.fetchval(
        "SELECT count(*) FROM mail_outbox WHERE account_id = $1 AND kind = 'email_verification'",
        account_id,
    )
    assert after == before + 1
    await _assert_audited(test_database, admin, user.user_id, "admin.verification_resent")

    await test_database.execute(
        "UPDATE users SET email_verified_at = now() WHERE id = $1", account_id
    )
    verified = await api.post(
        f"{ADMIN}/users/{user.user_id}/verification/resend", headers=admin.auth
    )
    assert (verified.status, verified.code) == (409, "email_already_verified")
    await test_database.execute(
        "UPDATE users SET email_verified_at = NULL, is_active = false WHERE id = $1", account_id
    )
    disabled = await api.post(
        f"{ADMIN}/users/{user.user_id}/verification/resend", headers=admin.auth
    )
    assert (disabled.status, disabled.code) == (409, "account_disabled")
    assert len(await _audit_rows(test_database, user.user_id, "admin.verification_resent")) == 1
    unknown = await api.post(
        f"{ADMIN}/users/{uuid.uuid4()}/verification/resend", headers=admin.auth
    )
    assert (unknown.status, unknown.code) == (404, "user_not_found")


async def _verification_mails(database: ScratchDatabase, account_id: uuid.UUID) -> int:
    count: int = await database.fetchval(
        "SELECT count(*) FROM mail_outbox WHERE account_id = $1 AND kind = 'email_verification'",
        account_id,
    )
    return count


async def test_resending_verification_is_throttled_per_address_like_the_users_resend(
    api: ApiClient, clock: ManualClock, admin: Admin, test_database: ScratchDatabase
) -> None:
    user = await register(api)
    account_id = uuid.UUID(user.user_id)
    resend = f"{ADMIN}/users/{user.user_id}/verification/resend"
    queued = await _verification_mails(test_database, account_id)
    assert (await api.post(resend, headers=admin.auth)).status == 202
    clock.advance(5)
    again = await api.post(resend, headers=admin.auth)
    assert (again.status, again.code) == (429, "too_many_attempts")
    assert 1 <= int(again.headers["retry-after"]) <= 55
    # the user-facing resend counts the same address's rows, and answers the same
    own = await api.post(f"{V1}/email/verify/resend", json={"email": user.email})
    assert (own.status, own.code) == (429, "too_many_attempts")
    # per address, not per client: another address from the same client is still served
    other = await api.post(f"{V1}/email/verify/resend", json={"email": unique_email()})
    assert other.status == 202, other.body
    assert await _verification_mails(test_database, account_id) == queued + 1
    # one mail, one audit row: a refused resend is counted, not audited
    assert len(await _audit_rows(test_database, user.user_id, "admin.verification_resent")) == 1
    clock.advance(60)  # the interval is over
    assert (await api.post(resend, headers=admin.auth)).status == 202
    assert await _verification_mails(test_database, account_id) == queued + 2


async def test_an_unknown_account_is_404_and_records_nothing(
    api: ApiClient, admin: Admin, test_database: ScratchDatabase
) -> None:
    unknown = str(uuid.uuid4())
    for action in ("disable", "enable", "logout", "mfa/reset"):
        reply = await api.post(f"{ADMIN}/users/{unknown}/{action}", headers=admin.auth)
        assert (reply.status, reply.code) == (404, "user_not_found"), action
    count = await test_database.fetchval(
        "SELECT count(*) FROM audit_events WHERE user_id = $1", uuid.UUID(unknown)
    )
    assert count == 0


async def test_an_admin_cannot_disable_delete_or_reset_their_own_account(
    api: ApiClient, admin: Admin
) -> None:
    own = f"{ADMIN}/users/{admin.id}"
    for method, path in (
        ("POST", f"{own}/disable"),
        ("DELETE", own),
        ("POST", f"{own}/mfa/reset"),
    ):
        reply = await api.request(method, path, headers=admin.auth)
        assert (reply.status, reply.code) == (409, "admin_own_account"), path
    assert (await api.get(own, headers=admin.auth)).body["status"] != "disabled"
