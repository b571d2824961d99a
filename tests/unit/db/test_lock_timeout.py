"""The bounded lock wait: its pauses add up to the allowed wait, and it gives up after them."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from authapi.db.lock_timeout import LockWaitExceeded, pauses_ms, with_bounded_lock_wait

pytestmark = pytest.mark.unit


class _Busy(Exception):
    sqlstate = "55P03"


@pytest.mark.parametrize("total", [1, 5, 99, 1000, 60_000])
def test_the_pauses_add_up_to_the_allowed_wait(total: int) -> None:
    pauses = pauses_ms(total)

    assert sum(pauses) == total
    assert pauses[0] == min(5, total)


async def test_it_tries_again_while_the_rows_are_locked_then_gives_up() -> None:
    tries = 0

    async def locked() -> str:
        nonlocal tries
        tries += 1
        raise OperationalError("UPDATE ...", {}, _Busy())

    with pytest.raises(LockWaitExceeded):
        await with_bounded_lock_wait(locked, wait_ms=20)
    assert tries == len(pauses_ms(20)) + 1


async def test_it_returns_what_a_later_try_returns() -> None:
    tries = 0

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise OperationalError("UPDATE ...", {}, _Busy())
        return "done"

    assert await with_bounded_lock_wait(attempt, wait_ms=20) == "done"


async def test_other_database_errors_are_not_retried() -> None:
    class _Other(Exception):
        sqlstate = "57014"

    async def failing() -> str:
        raise OperationalError("UPDATE ...", {}, _Other())

    with pytest.raises(OperationalError):
        await with_bounded_lock_wait(failing, wait_ms=20)
