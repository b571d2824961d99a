"""What a session records of where it was opened from."""

from __future__ import annotations

import pytest

from authapi.auth.session_origin import USER_AGENT_MAX, session_origin

pytestmark = pytest.mark.unit

SCOPE = {"type": "http", "client": ("::ffff:192.0.2.9", 1234)}


def test_the_user_agent_is_kept_as_sent_and_the_address_as_trusted() -> None:
    origin = session_origin(SCOPE, "Mozilla/5.0 (Ünïcode) é")

    assert origin.user_agent == "Mozilla/5.0 (Ünïcode) é"
    assert origin.ip == "192.0.2.9"  # client_address's canonical form


def test_a_long_user_agent_is_truncated() -> None:
    assert session_origin(SCOPE, "a" * 1000).user_agent == "a" * USER_AGENT_MAX


@pytest.mark.parametrize("unstorable", ["\x00", "\x1b", "\x7f", "\ud800"])
def test_what_postgres_or_a_log_cannot_carry_is_replaced(unstorable: str) -> None:
    assert session_origin(SCOPE, f"x{unstorable}y").user_agent == "x\ufffdy"


def test_no_header_records_none() -> None:
    assert session_origin(SCOPE, None).user_agent is None
    assert session_origin(SCOPE, "").user_agent is None
