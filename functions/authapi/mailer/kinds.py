"""Every kind of message the mailer sends: its subject and templates, and what it needs.

A flow that sends mail adds its kind here. Where the message carries a token or a code, its
`context` mints it: called in the mailer's claim transaction (committed before the send),
idempotent per outbox id (one token per outbox row: a second claim of the same row replaces the
token the first minted, which nothing can recover, since only its hash is stored), so the
outbox itself never holds one. A context that answers None sends nothing (skipped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.mailer.job import MailJob as MailJob  # re-exported: the kinds and their job
from authapi.outbox.messages import (
    ACCOUNT_DELETED,
    EMAIL_CHANGE,
    EMAIL_CHANGE_NOTICE,
    EMAIL_VERIFICATION,
    LOCKOUT_NOTICE,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    TEST_MESSAGE,
)

Context = Callable[[AsyncSession, MailJob], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class MailKind:
    name: str
    subject: str  # a str.format template: {product_name}
    template: str  # templates/<template>.txt.j2 and .html.j2
    context: Context | None = None
    # to the row's sealed address as it is, not the account's: the new address of an email
    # change (for the account that asked), the address of a deleted account (no account left)
    to_sealed_address: bool = False


def _lifecycle(name: str) -> Context:
    """A context of authapi.mailer.minting, imported when first used (it needs the models)."""

    async def context(db: AsyncSession, job: MailJob) -> dict[str, Any] | None:
        from authapi.mailer import minting

        result: dict[str, Any] | None = await getattr(minting, name)(db, job)
        return result

    return context


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
        MailKind(
            name=EMAIL_VERIFICATION,
            subject="{product_name}: confirm your email address",
            template="email_verification",
            context=_lifecycle("email_verification"),
        ),
        MailKind(
            name=PASSWORD_RESET,
            subject="{product_name}: reset your password",
            template="password_reset",
            context=_lifecycle("password_reset"),
        ),
        MailKind(
            name=PASSWORD_CHANGED,
            subject="{product_name}: your password was changed",
            template="password_changed",
        ),
        MailKind(
            name=EMAIL_CHANGE,
            subject="{product_name}: confirm your new email address",
            template="email_change",
            context=_lifecycle("email_change"),
            to_sealed_address=True,
        ),
        MailKind(
            name=EMAIL_CHANGE_NOTICE,
            subject="{product_name}: a change of your email address was requested",
            template="email_change_notice",
        ),
        MailKind(
            name=ACCOUNT_DELETED,
            subject="{product_name}: your account was deleted",
            template="account_deleted",
            to_sealed_address=True,
        ),
    )
}
