"""What the per-IP limits count by: a valid address, IPv6 by its /64, and never "unknown"."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from authapi.observability import metrics
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.http import ClientWith
from tests.support.logs import log_records
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration

LOGIN = "/api/auth/login"
REGISTER = "/api/auth/register"


def _wrong_login() -> dict[str, str]:
    return {"email": unique_email(), "password": "not the password"}


async def test_an_over_long_client_address_is_a_400_not_a_500(client_with: ClientWith) -> None:
    # what a proxy-header-trusting server would pass on from a client-written X-Forwarded-For
    async with client_with(client_ip="1" * 200) as client:
        reply = await client.post(
            REGISTER, json={"email": unique_email(), "password": STRONG_PASSWORD}
        )
    assert_problem(reply, 400, "client_address_unknown")


async def test_a_missing_address_is_refused_logged_and_counted(
    client_with: ClientWith, capsys: pytest.CaptureFixture[str]
) -> None:
    counted: list[str] = []
    metrics.install_sink(counted.append)
    capsys.readouterr()
    try:
        async with client_with(client_ip="unknown") as client:
            replies = [await client.post(LOGIN, json=_wrong_login()) for _ in range(2)]
    finally:
        metrics.install_sink(None)

    for reply in replies:
        assert_problem(reply, 400, "client_address_unknown")
    errors = [
        record
        for record in log_records(capsys.readouterr().out)
        if record.get("level") == "ERROR" and record.get("message", "").startswith("client address")
    ]
    assert len(errors) == 2
    assert counted.count("ClientAddressMissing") == 2


async def test_ipv6_addresses_of_one_64_share_a_bucket(client_with: ClientWith) -> None:
    network = ipaddress.IPv6Network((0x20010DB8 << 96 | (uuid.uuid4().int >> 96) << 64, 64))
    statuses = []
    for host in (1, 2, 2**64 - 1):  # one client rotating through its /64
        async with client_with(
            client_ip=str(network[host]), rate_limit_login=2, rate_limit_window_seconds=3600
        ) as client:
            statuses.append((await client.post(LOGIN, json=_wrong_login())).status)
    neighbour = network.network_address + 2**64  # the next /64
    async with client_with(
        client_ip=str(neighbour), rate_limit_login=2, rate_limit_window_seconds=3600
    ) as client:
        statuses.append((await client.post(LOGIN, json=_wrong_login())).status)

    assert statuses == [401, 401, 429, 401]


async def test_one_address_written_two_ways_is_one_bucket(client_with: ClientWith) -> None:
    octets = uuid.uuid4().bytes[:2]
    address = f"198.18.{octets[0]}.{octets[1]}"
    async with client_with(
        client_ip=address, rate_limit_login=1, rate_limit_window_seconds=3600
    ) as client:
        first = await client.post(LOGIN, json=_wrong_login())
    async with client_with(
        client_ip=f"::ffff:{address}", rate_limit_login=1, rate_limit_window_seconds=3600
    ) as client:
        second = await client.post(LOGIN, json=_wrong_login())
    assert (first.status, second.status) == (401, 429)
