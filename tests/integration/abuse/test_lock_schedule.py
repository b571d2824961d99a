"""The (account, client) lock's schedule, walked with a clock the test moves: five failures, then
30 s, doubling with each further failure, never past 15 minutes."""

from __future__ import annotations

import pytest

from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.http import ClientWith

pytestmark = pytest.mark.integration

WRONG = "a stranger guessing"


async def test_locks_double_from_30_seconds_up_to_the_cap(client_with: ClientWith) -> None:
    clock = ManualClock()
    defaults = {
        "login_max_failures": 5,
        "login_lockout_base_seconds": 30,
        "login_lockout_max_seconds": 900,
        "login_failure_window_seconds": 24 * 3600,  # the schedule, not the window, is the subject
    }
    async with client_with(clock=clock, **defaults) as client:
        account = await register(client)

        async def attempt() -> tuple[int, int | None]:
            reply = await client.post(
                "/api/auth/login", json={"email": account.email, "password": WRONG}
            )
            retry = reply.headers.get("retry-after")
            return reply.status, int(retry) if retry else None

        assert [await attempt() for _ in range(5)] == [(401, None)] * 5
        waits = []
        for _ in range(7):
            status, retry_after = await attempt()
            assert status == 429
            assert retry_after is not None
            waits.append(retry_after)
            clock.advance(retry_after)
            assert (await attempt())[0] == 401  # one more check once the lock is over
        assert waits == [30, 60, 120, 240, 480, 900, 900]
