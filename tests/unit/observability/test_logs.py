"""The console log format: one record, one line, whatever a client put in it."""

from __future__ import annotations

import logging

import pytest

from authapi.observability.logs import RedactingConsoleFormatter

pytestmark = pytest.mark.unit

FORGED = "12:00:00.000 WARNING [authapi.auth] login succeeded  user_id=admin"


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("authapi.access", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r", "\u2028", "\x85", "\x1b[2K\r"])
def test_a_line_break_in_a_path_cannot_forge_a_log_line(separator: str) -> None:
    # what uvicorn hands the app for GET /x%0a12:00:00.000%20WARNING...
    line = RedactingConsoleFormatter().format(
        _record("request completed", path=f"/x{separator}{FORGED}", status=404)
    )
    assert len(line.splitlines()) == 1
    assert separator not in line
    assert "path=/x\\" in line  # escaped, still readable


def test_the_message_is_escaped_too() -> None:
    line = RedactingConsoleFormatter().format(_record(f"user said\n{FORGED}"))
    assert len(line.splitlines()) == 1
