"""Every kind of message the mailer sends: its subject and templates, and what it needs.

A flow that sends mail adds its kind here. Where the message carries a token or a code, its
`context` mints it: called in the mailer's claim transaction (committed before the send),
idempotent per outbox id (a second claim of the same row must find the token it minted, not
mint another), so the outbox itself never holds one.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.config import Settings
from authapi.outbox.messages import LOCKOUT_NOTICE, TEST_MESSAGE


@dataclass(frozen=True)
class MailJob:
    """One claimed outbox row, with whom it goes to."""

    outbox_id: uuid.UUID
    kind: str
    purpose: str
    account_id: uuid.UUID | None
    email: str
    now: datetime
    settings: Settings


Context = Callable[[AsyncSession, MailJob], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class MailKind:
    name: str
    subject: str  # a str.format template: {product_name}
    template: str  # templates/<template>.txt.j2 and .html.j2
    context: Context | None = None


KINDS: dict[str, MailKind] = {
    kind.name: kind
    for kind in (
        MailKind(
            name=TEST_MESSAGE,
            subject="{product_name}: test message",
            template="test_message",
        ),
        MailKind(
            name=LOCKOUT_NOTICE,
            subject="{product_name}: sign-in paused after failed attempts",
            template="lockout_notice",
        ),
    )
}
