"""Account enumeration through login: an unknown email and a wrong password look the same.

The answers must be identical; their latencies are measured and reported in the terminal
summary, not asserted (timings belong in benchmarks, not in pass/fail tests).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

from tests.support.accounts import Account, unique_email
from tests.support.http import ApiClient, Reply

pytestmark = pytest.mark.integration

ROUNDS = 15


def _comparable(response: Reply) -> tuple[int, str | None, dict[str, object]]:
    body = {name: value for name, value in response.body.items() if name != "request_id"}
    return response.status, response.headers.get("www-authenticate"), body


async def test_unknown_email_and_wrong_password_are_indistinguishable(
    client: ApiClient, account: Account, record_property: Callable[[str, object], None]
) -> None:
    unknown_email = unique_email()
    attempts = {"unknown email": unknown_email, "wrong password": account.email}
    answers: dict[str, list[tuple[int, str | None, dict[str, object]]]] = {k: [] for k in attempts}
    latencies_ms: dict[str, list[float]] = {kind: [] for kind in attempts}

    # interleaved, so drift on the machine (a GC pause, another process) hits both alike
    for _ in range(ROUNDS):
        for kind, email in attempts.items():
            started = time.perf_counter()
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": "not the password 1"}
            )
            latencies_ms[kind].append((time.perf_counter() - started) * 1000)
            answers[kind].append(_comparable(response))

    medians = {kind: statistics.median(values) for kind, values in latencies_ms.items()}
    record_property(
        "terminal_summary",
        f"login latency median: unknown email {medians['unknown email']:.1f} ms, "
        f"wrong password {medians['wrong password']:.1f} ms ({ROUNDS} each, interleaved)",
    )
    first = answers["wrong password"][0]
    assert first[0] == 401
    assert first[2]["code"] == "invalid_credentials"
    assert all(answer == first for answer in answers["unknown email"] + answers["wrong password"])
