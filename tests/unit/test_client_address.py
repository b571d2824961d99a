"""The client address comes from the trusted front door, never from client-written headers."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.client_address import (
    VIEWER_ADDRESS_SCOPE_KEY,
    canonical_address,
    client_ip,
    client_network,
    viewer_address,
)
from tests.support.aws import load_event

pytestmark = pytest.mark.unit


def _scope(
    event: dict[str, Any] | None, client: tuple[str, int] | None = ("10.0.0.9", 1234)
) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "client": client}
    if event is not None:
        scope["aws.event"] = event
    return scope


@pytest.mark.parametrize(
    "name", ["login.json", "rest-api-v1-register.json", "function-url-me.json", "alb-health.json"]
)
def test_source_ip_of_each_event_type(name: str) -> None:
    event = load_event(name)
    event.setdefault("headers", {})["x-forwarded-for"] = "6.6.6.6, 203.0.113.10"
    # a spoofed header must not win, except an ALB's own last entry, which it writes itself
    assert client_ip(_scope(event, client=("6.6.6.6", 0))) == "203.0.113.10"


def test_alb_without_forwarded_for() -> None:
    event = load_event("alb-health.json")
    del event["headers"]["x-forwarded-for"]
    assert client_ip(_scope(event)) is None


def _multi_value(event: dict[str, Any]) -> dict[str, Any]:
    """The event as an ALB target group with multi-value headers sends it."""
    headers = event.pop("headers")
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    return event


def test_alb_with_multi_value_headers_reads_the_albs_own_entry() -> None:
    event = _multi_value(load_event("alb-health.json"))
    # a client-sent header arrives as its own value; the ALB appends its entry to the last one
    event["multiValueHeaders"]["x-forwarded-for"] = ["6.6.6.6", "7.7.7.7, 198.51.100.23"]
    assert client_ip(_scope(event, client=None)) == "198.51.100.23"


def test_alb_with_multi_value_headers_and_no_forwarded_for() -> None:
    event = _multi_value(load_event("alb-health.json"))
    del event["multiValueHeaders"]["x-forwarded-for"]
    assert client_ip(_scope(event, client=None)) is None


def test_local_socket_peer() -> None:
    assert client_ip(_scope(None)) == "10.0.0.9"
    assert client_ip(_scope(None, client=None)) is None


@pytest.mark.parametrize(
    "written",
    ["", "unknown", "1.2.3", "999.1.1.1", "203.0.113.10:443", "x" * 200, "2001:db8::1" + "1" * 90],
)
def test_what_is_not_an_ip_address_is_no_address(written: str) -> None:
    assert client_ip(_scope(None, client=(written, 0))) is None


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        (" 203.0.113.10 ", "203.0.113.10"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("::ffff:203.0.113.10", "203.0.113.10"),  # a dual-stack socket's IPv4 peer
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_addresses_are_canonical(written: str, canonical: str) -> None:
    assert canonical_address(written) == canonical


def test_ipv6_clients_are_counted_by_their_64() -> None:
    assert client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert client_network("203.0.113.10") == "203.0.113.10"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.7:46532", "203.0.113.7"),
        ("2001:db8::17:443", "2001:db8::17"),  # CloudFront writes IPv6 without brackets
        ("::ffff:203.0.113.7:443", "203.0.113.7"),
        ("203.0.113.7", None),  # no port: not CloudFront's format, and not guessed at
        ("garbage:443", None),
        ("", None),
        (None, None),
    ],
)
def test_viewer_address_reads_cloudfronts_header(header: str | None, expected: str | None) -> None:
    assert viewer_address(header) == expected


def test_a_vouched_viewer_address_wins_over_the_source_ip() -> None:
    event = {"requestContext": {"http": {"sourceIp": "130.176.0.1"}}}
    assert client_ip({"aws.event": event}) == "130.176.0.1"
    vouched = {"aws.event": event, VIEWER_ADDRESS_SCOPE_KEY: "203.0.113.7"}
    assert client_ip(vouched) == "203.0.113.7"
