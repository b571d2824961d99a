"""Where a session was opened from, as the sessions API shows it: the browser or app that said
so (its User-Agent, as sent, truncated) and the trusted client address (`client_address.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Scope

from authapi.client_address import client_ip

USER_AGENT_MAX = 256  # the column's width: enough to tell browsers apart, bounded for the table


@dataclass(frozen=True)
class SessionOrigin:
    user_agent: str | None = None
    ip: str | None = None


def _recordable(value: str) -> str:
    # what a header may still carry that PostgreSQL or a JSON log cannot: NUL and other controls,
    # lone surrogates from a Lambda event's JSON; each becomes U+FFFD, the rest stays as sent
    return "".join(
        "\ufffd" if ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF else char
        for char in value[:USER_AGENT_MAX]
    )


def session_origin(scope: Scope, user_agent: str | None) -> SessionOrigin:
    return SessionOrigin(
        user_agent=_recordable(user_agent) if user_agent else None, ip=client_ip(scope)
    )
