"""Enqueueing mail: an INSERT a flow folds into the statement that causes the message.

A request's statements autocommit one by one (db/session.py), so the outbox row must be part of
the very statement whose state change it reports: a data-modifying CTE (`db/chained_writes.py`)
or the `enqueue_for_account` select. Then a rolled-back (failed) statement sends nothing and a
committed one always has its row; after the statement, `notify` hands the id to the queue.

A row holds the kind, the purpose and whom to write to (an account id, or the submitted address
as an HMAC and sealed): never a token or a code, which the mailer mints when it sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Insert, exists, insert, literal, not_, select

from authapi.models import MailOutbox
from authapi.signing.keys import DataKeys
from authapi.signing.sealing import seal
from authapi.tenant_scope import tenant_selected, tenant_values
from authapi.tenants.throttle_keys import tenant_subject

# The kinds the mailer knows (authapi/mailer/kinds.py holds their templates).
TEST_MESSAGE = "test_message"  # `make mail-test`: the whole path with no flow behind it
LOCKOUT_NOTICE = "lockout_notice"  # login locked after repeated failures (abuse issue)
# the account lifecycle (authapi/lifecycle); the first three carry a token the mailer mints
EMAIL_VERIFICATION = "email_verification"  # code + link; at registration and on resend
PASSWORD_RESET = "password_reset"  # link; to a submitted address (forgot)
EMAIL_CHANGE = "email_change"  # link; to the new address, for the account that asked
PASSWORD_CHANGED = "password_changed"  # notice: after a reset or a change
EMAIL_CHANGE_NOTICE = "email_change_notice"  # notice to the old address
ACCOUNT_DELETED = "account_deleted"  # notice to the address of an account now gone

ADDRESS_PURPOSE = "mail:address"  # the HMAC and the seal of a submitted address


@dataclass(frozen=True)
class OutboxMessage:
    """One message to enqueue; its id is known before the statement runs, to notify after."""

    kind: str
    purpose: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class SubmittedAddress:
    """An address as a request named it, for flows that must not learn whether it has an
    account (forgot, resend): the mailer opens the seal and resolves the account itself."""

    address_hmac: bytes
    sealed_address: bytes
    key_id: str


def submitted_address(data_keys: DataKeys, email: str) -> SubmittedAddress:
    key_id, sealed = seal(data_keys, ADDRESS_PURPOSE, email)
    return SubmittedAddress(
        # the mail throttle counts per address in the tenant (the default's: the address alone)
        address_hmac=data_keys.hmac(ADDRESS_PURPOSE, tenant_subject(email)),
        sealed_address=sealed,
        key_id=key_id,
    )


def enqueue(
    message: OutboxMessage,
    *,
    now: datetime,
    account_id: uuid.UUID | None = None,
    address: SubmittedAddress | None = None,
) -> Insert:
    """The INSERT of one message, for `chained_writes(...)` or on its own. Both an account and
    an address: for that account, to that address (an email change's new one)."""
    if account_id is None and address is None:
        raise ValueError("a message goes to an account, a submitted address, or both")
    values: dict[str, object] = {
        "id": message.id,
        "kind": message.kind,
        "purpose": message.purpose,
        "account_id": account_id,
        "created_at": now,
        # explicit: an INSERT run as a CTE of another statement gets no column defaults
        "status": "pending",
        "attempts": 0,
    }
    if address is not None:
        values |= {
            "address_hmac": address.address_hmac,
            "sealed_address": address.sealed_address,
            "key_id": address.key_id,
        }
    return insert(MailOutbox).values(**values, **tenant_values())


def enqueue_for_account(
    message: OutboxMessage,
    *,
    now: datetime,
    account_id: ColumnElement[uuid.UUID],
    when: ColumnElement[bool],
    at_most_once_since: datetime | None = None,
) -> Insert:
    """An INSERT ... SELECT: the message, for an account another part of the statement finds
    (a CTE's column), only `when` it holds; with `at_most_once_since`, not if the account was
    sent one of this kind since then (the lockout notice: one a day at most).

    Two statements racing may each see no earlier row and both enqueue: a rare second notice,
    never a lost one.
    """
    conditions = [when]
    if at_most_once_since is not None:
        earlier = select(MailOutbox.id).where(
            MailOutbox.account_id == account_id,
            MailOutbox.kind == message.kind,
            MailOutbox.created_at > at_most_once_since,
        )
        conditions.append(not_(exists(earlier)))
    columns = MailOutbox.__table__.c
    tenant_names, tenant_columns = tenant_selected()
    rows = select(
        literal(message.id, columns.id.type),
        literal(message.kind, columns.kind.type),
        literal(message.purpose, columns.purpose.type),
        account_id,
        literal(now, columns.created_at.type),
        *tenant_columns,
    ).where(*conditions)
    return insert(MailOutbox).from_select(
        ["id", "kind", "purpose", "account_id", "created_at", *tenant_names], rows
    )


def enqueue_when(
    message: OutboxMessage,
    *,
    now: datetime,
    when: ColumnElement[bool],
    account_id: ColumnElement[uuid.UUID] | uuid.UUID | None = None,
    address: SubmittedAddress | None = None,
) -> Insert:
    """An INSERT ... SELECT of one message, only `when` another part of the statement did its
    work (a CTE's row exists): to an account, a submitted address, or both (as `enqueue`)."""
    if account_id is None and address is None:
        raise ValueError("a message goes to an account, a submitted address, or both")
    columns = MailOutbox.__table__.c
    # status and attempts explicit: an INSERT run as a CTE of another statement gets no defaults
    names = ["id", "kind", "purpose", "account_id", "created_at", "status", "attempts"]
    values: list[ColumnElement[object]] = [
        literal(message.id, columns.id.type),
        literal(message.kind, columns.kind.type),
        literal(message.purpose, columns.purpose.type),
        account_id  # type: ignore[list-item]
        if isinstance(account_id, ColumnElement)
        else literal(account_id, columns.account_id.type),
        literal(now, columns.created_at.type),
        literal("pending", columns.status.type),
        literal(0, columns.attempts.type),
    ]
    if address is not None:
        names += ["address_hmac", "sealed_address", "key_id"]
        values += [
            literal(address.address_hmac, columns.address_hmac.type),
            literal(address.sealed_address, columns.sealed_address.type),
            literal(address.key_id, columns.key_id.type),
        ]
    tenant_names, tenant_columns = tenant_selected()
    names += tenant_names
    values += tenant_columns
    return insert(MailOutbox).from_select(names, select(*values).where(when))
