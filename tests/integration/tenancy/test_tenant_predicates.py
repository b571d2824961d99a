"""Isolation below the application code (issue 17): every statement sent to a tenant-owned
table names `tenant_id`, except those marked as acting across every tenant on purpose.

Every SQL statement any engine sends while one walk goes through the request flows (register,
login, MFA, refresh, sessions, logout, password change, forgotten password, email change,
admin actions, events, the OAuth token endpoint, account deletion) is recorded with
SQLAlchemy's `before_cursor_execute`; a statement that names a tenant-owned table in FROM,
JOIN, UPDATE, DELETE or INSERT INTO without `tenant_id` fails the test, unless it carries the
`every_tenant` execution option (authapi.tenant_scope.every_tenant). The mail flows, the mailer
and the maintenance run: tests/integration/mail/test_tenant_predicates_of_mail.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Unpack

import pytest

from authapi.tenant_scope import DEFAULT_TENANT
from tests.support.accounts import STRONG_PASSWORD, register
from tests.support.admin import ADMIN, make_admin
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith, Reply, RequestOptions
from tests.support.mfa import START, challenge_of, enrolled
from tests.support.statement_log import Sent, recording, tenant_owned_tables, unscoped

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"
LEGACY = "/api/auth"


@pytest.fixture
def statements() -> Iterator[list[Sent]]:
    with recording() as sent:
        yield sent


class _InTenant(ApiClient):
    """The same app under `/t/<tenant>`: every path the helpers ask for, prefixed."""

    def __init__(self, client: ApiClient, prefix: str):
        super().__init__(client.transport)
        self.prefix = prefix

    async def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Reply:
        if self.prefix and path.startswith(LEGACY):  # the aliases are the default tenant's alone
            path = V1 + path.removeprefix(LEGACY)
        return await super().request(method, self.prefix + path, **options)


@pytest.fixture(params=[DEFAULT_TENANT, "another"])
async def tenant_prefix(request: pytest.FixtureRequest, test_database: ScratchDatabase) -> str:
    """The walk once in the default tenant (today's paths) and once in another (`/t/<id>`):
    a tenant value built into a cached statement would show there (a composite foreign key
    refuses a row of the default tenant under another's parent)."""
    if request.param == DEFAULT_TENANT:
        return ""
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await test_database.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, now())", tenant_id
    )
    return f"/t/{tenant_id}"


def test_the_parser_sees_a_missing_predicate() -> None:
    """The check itself can fail: an unscoped read, join or write is reported; a scoped or
    marked one is not."""
    assert unscoped([Sent("SELECT users.id FROM users WHERE users.email = %(e)s", False)])
    assert unscoped([Sent("SELECT 1 FROM x JOIN auth_sessions ON true", False)])
    assert unscoped([Sent("INSERT INTO mail_outbox (id) VALUES (%(id)s)", False)])
    assert not unscoped([Sent("SELECT 1 FROM users WHERE users.tenant_id = %(t)s", False)])
    # each use needs its own: the join's alias here has none
    assert unscoped(
        [
            Sent(
                "SELECT 1 FROM users JOIN auth_sessions AS s ON s.user_id = users.id"
                " WHERE users.tenant_id = %(t)s"
            )
        ]
    )
    assert unscoped([Sent("INSERT INTO users (id, email) SELECT id, tenant_id FROM x")])
    assert not unscoped([Sent("INSERT INTO users (id, tenant_id) VALUES (%(id)s, %(t)s)")])
    assert not unscoped([Sent("DELETE FROM audit_events WHERE id IN (1)", True)])
    assert not unscoped([Sent("SELECT 1 FROM rate_limit_buckets", False)])


async def test_every_flow_sends_only_tenant_scoped_statements(
    client_with: ClientWith,
    test_database: ScratchDatabase,
    tenant_prefix: str,
    statements: list[Sent],
) -> None:
    clock = ManualClock(START)
    async with client_with(clock=clock, mfa_step_up_seconds=300) as client:
        api = _InTenant(client, tenant_prefix)
        account = await register(api)
        assert (
            await api.post(
                f"{V1}/login", json={**account.credentials, "password": "no no no no 12"}
            )
        ).status == 401
        login = await api.post(f"{V1}/login", json=account.credentials)
        assert login.status == 200, login.body
        assert (await api.get(f"{V1}/me", headers=account.auth)).status == 200
        assert (await api.get(f"{V1}/me/events", headers=account.auth)).status == 200
        refreshed = await api.post(
            f"{V1}/refresh-token", json={"refresh_token": login.body["refresh_token"]}
        )
        assert refreshed.status == 200, refreshed.body
        sessions = await api.get(f"{V1}/sessions", headers=account.auth)
        assert sessions.status == 200, sessions.body
        other = next(s["id"] for s in sessions.body["sessions"] if not s["current"])
        ended = await api.request("DELETE", f"{V1}/sessions/{other}", headers=account.auth)
        assert ended.status == 204, ended.body
        new_password = "a brand new passphrase 42"
        change = {"current_password": account.password, "new_password": new_password}
        changed = await api.post(f"{V1}/password/change", json=change, headers=account.auth)
        assert changed.status == 204, changed.body
        forgot = await api.post(f"{V1}/password/forgot", json={"email": account.email})
        assert forgot.status == 202, forgot.body
        email_change = await api.post(
            f"{V1}/email/change",
            json={"new_email": f"new-{account.email}", "password": new_password},
            headers=account.auth,
        )
        assert email_change.status in (202, 204), email_change.body
        assert (await api.post(f"{V1}/logout", headers=account.auth)).status == 204

        # MFA: enrolment, verification, a challenged login, step-up; then the admin's actions
        admin = await make_admin(api, clock, test_database)
        challenge = await challenge_of(api, admin.user)
        answered = await api.post(
            f"{V1}/mfa/challenge",
            json={"challenge": challenge, "code": admin.user.code(clock)},
        )
        assert answered.status == 200, answered.body
        clock.advance(30)
        user = await register(api)
        for path in ("", "/logout", "/verification/resend", "/disable", "/enable"):
            method = "GET" if path == "" else "POST"
            reply = await api.request(
                method, f"{ADMIN}/users/{user.user_id}{path}", headers=admin.auth
            )
            assert reply.status < 400, (path, reply.body)
        assert (await api.get(f"{ADMIN}/users?email=a", headers=admin.auth)).status == 200
        assert (await api.get(f"{ADMIN}/events", headers=admin.auth)).status == 200
        enrolled_user = await enrolled(api, clock)
        reset = await api.post(
            f"{ADMIN}/users/{enrolled_user.account.user_id}/mfa/reset", headers=admin.auth
        )
        assert reset.status < 400, reset.body
        deleted = await api.request("DELETE", f"{ADMIN}/users/{user.user_id}", headers=admin.auth)
        assert deleted.status < 400, deleted.body

        # the OAuth token endpoint's password grant, and an account's own deletion
        third = await register(api)
        await api.post(
            "/api/v1/oauth/token",
            data={
                "grant_type": "password",
                "username": third.email,
                "password": STRONG_PASSWORD,
            },
        )
        gone = await api.post(
            f"{V1}/me/delete", json={"password": third.password}, headers=third.auth
        )
        assert gone.status in (202, 204, 404, 405), gone.body

    sent_to_owned = [s for s in statements if tenant_owned_tables(s.sql)]
    assert len(sent_to_owned) > 50, "the walk reached the tenant-owned tables"
    assert unscoped(statements) == []
