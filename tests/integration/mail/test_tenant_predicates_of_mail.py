"""Isolation below the application code (issue 17), for the mail flows and the jobs: every
statement the app, the mailer and the maintenance run send to a tenant-owned table names
`tenant_id`, except the cross-tenant ones marked `every_tenant` (the claims, the re-queue, the
publisher, the purges). The request flows' walk: tests/integration/tenancy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from authapi.clock import SystemClock
from authapi.db.engine import Database
from authapi.mailer.delivery import Outcome
from authapi.maintenance import run_maintenance
from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ClientWith
from tests.support.lifecycle import Mailer, token_of
from tests.support.statement_log import recording, tenant_owned_tables, unscoped

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"
NEW_PASSWORD = "a brand new passphrase 42"


class _Bus:
    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        return [None] * len(entries)

    def close(self) -> None:
        pass


class _Queue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies: Sequence[str]) -> None:
        self.bodies.extend(bodies)

    def close(self) -> None:
        pass


async def test_mail_flows_the_mailer_and_maintenance_send_only_scoped_statements(
    client_with: ClientWith,
    mailer: Mailer,
    lifecycle: dict[str, object],
    mail_database: Database,
) -> None:
    clock = ManualClock()
    with recording() as statements:
        async with client_with(clock=clock, **lifecycle) as client:
            account = await register(client)
            assert set(await mailer.run(clock)) == {Outcome.SENT}
            verify = token_of(mailer.sent_to(account.email)[-1], "/verify-email")
            assert (await client.post(f"{V1}/email/verify", json={"token": verify})).status == 204

            forgot = await client.post(f"{V1}/password/forgot", json={"email": account.email})
            assert forgot.status == 202
            await mailer.run(clock)
            reset = token_of(mailer.sent_to(account.email)[-1], "/reset-password")
            done = await client.post(
                f"{V1}/password/reset", json={"token": reset, "new_password": NEW_PASSWORD}
            )
            assert done.status == 204, done.body

            login = await client.post(
                f"{V1}/login", json={"email": account.email, "password": NEW_PASSWORD}
            )
            assert login.status == 200, login.body
            bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
            new_email = unique_email()
            change = await client.post(
                f"{V1}/email/change",
                json={"new_email": new_email, "password": NEW_PASSWORD},
                headers=bearer,
            )
            assert change.status == 202, change.body
            await mailer.run(clock)
            confirm = token_of(mailer.sent_to(new_email)[0], "/confirm-email-change")
            confirmed = await client.post(f"{V1}/email/change/confirm", json={"token": confirm})
            assert confirmed.status == 204, confirmed.body
            await mailer.run(clock)

        report = await run_maintenance(
            mail_database,
            mailer.settings,
            clock=SystemClock(),
            seconds_left=lambda: 60.0,
            mail_queue=_Queue(),
            event_sink=_Bus(),
        )

    assert report.events_published > 0, report
    assert report.finished, report
    assert len([s for s in statements if tenant_owned_tables(s.sql)]) > 20
    assert any(s.every_tenant for s in statements), "the jobs' cross-tenant statements ran"
    assert unscoped(statements) == []
