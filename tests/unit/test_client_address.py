"""The client address comes from the trusted front door, never from client-written headers."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.client_address import client_ip
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
    assert client_ip(_scope(event)) == "unknown"


def test_local_socket_peer() -> None:
    assert client_ip(_scope(None)) == "10.0.0.9"
    assert client_ip(_scope(None, client=None)) == "unknown"
