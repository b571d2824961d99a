"""The lifecycle's single-use tokens and codes: minting (by the mailer), and the statements that
spend them (by the flows). Reads and writes only; the flows decide (authapi/lifecycle).

A token is 256 bits from `secrets`, stored as its SHA-256; a code is 6 digits, stored as an
HMAC under the data keys, tried at most `CODE_MAX_ATTEMPTS` times. Every row is bound to the
account's password hash and email as they were when it was minted (`binding_of`): a statement
spends a row only while the account's binding is still the same, so a password or email change
by any route (reset, change, a rehash, an operator) kills every token minted before it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    LargeBinary,
    and_,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.batches import delete_batch
from authapi.db.expand import names_a_missing_table
from authapi.models import AccountToken, User
from authapi.signing.keys import DataKeys
from authapi.tenant_scope import tenant_values

EMAIL_VERIFICATION = "email_verification"
PASSWORD_RESET = "password_reset"
EMAIL_CHANGE = "email_change"

TOKEN_PREFIX = "lt_"  # lets log redaction and secret scanners recognise a leaked one
TOKEN_BYTES = 32
CODE_DIGITS = 6
CODE_MAX_ATTEMPTS = 5
CODE_PURPOSE = "account-token:code"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_token(token: str) -> bytes:
    # 256 random bits: an unsalted SHA-256 keeps it safe at rest (as refresh tokens)
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _code_message(purpose: str, email: str, code: str) -> str:
    return f"{purpose}:{email}:{code}"


def hash_code(data_keys: DataKeys, *, purpose: str, email: str, code: str) -> bytes:
    return data_keys.hmac(CODE_PURPOSE, _code_message(purpose, email, code))


def code_hashes(data_keys: DataKeys, *, purpose: str, email: str, code: str) -> list[bytes]:
    """The code's HMAC under every data key: one minted before a rotation still matches."""
    return [
        digest for _, digest in data_keys.hmacs(CODE_PURPOSE, _code_message(purpose, email, code))
    ]


def binding_of(password_hash: Any, email: Any) -> ColumnElement[bytes]:
    """SHA-256 of the account's password hash and email, computed by PostgreSQL in the same
    statement that mints or spends, so nothing can change in between."""
    joined = func.convert_to(password_hash + literal("\n") + email, literal("UTF8"))
    return func.sha256(joined, type_=LargeBinary)


CURRENT_BINDING = binding_of(User.password_hash, User.email)


@dataclass(frozen=True)
class Minted:
    token: str
    code: str | None


async def mint(
    db: AsyncSession,
    data_keys: DataKeys,
    *,
    outbox_id: uuid.UUID,
    account_id: uuid.UUID,
    email: str,
    purpose: str,
    now: datetime,
    expires_at: datetime,
    with_code: bool = False,
    new_email: str | None = None,
) -> Minted:
    """A fresh token (and code) for this outbox row, in the mailer's claim transaction.

    One row per outbox id: a second claim of the same message (its mailer died before it
    recorded the send) mints again and replaces the first, so whichever copy was sent last is
    the one that works; nothing recoverable is ever stored. Every other live token of the
    account for this purpose is spent: one code at a time, so its 5 tries are all there are.
    """
    minted = Minted(token=new_token(), code=new_code() if with_code else None)
    code_hash = (
        hash_code(data_keys, purpose=purpose, email=email, code=minted.code)
        if minted.code is not None
        else None
    )
    binding = select(CURRENT_BINDING).where(User.id == account_id).scalar_subquery()
    values = {
        "token_hash": hash_token(minted.token),
        "code_hash": code_hash,
        "code_attempts": 0,
        "binding": binding,
        "new_email": new_email,
        "created_at": now,
        "expires_at": expires_at,
        "used_at": None,
    }
    written = (
        insert(AccountToken)
        .values(
            id=uuid.uuid4(),
            outbox_id=outbox_id,
            account_id=account_id,
            purpose=purpose,
            **values,
            **tenant_values(),
        )
        # by name: (outbox_id) before migration 0014, (tenant_id, outbox_id) after, the same name
        # (an environment may learn of the migration up to a minute late: authapi.db.tenancy)
        .on_conflict_do_update(constraint="uq_account_tokens_outbox_id", set_=values)
    )
    superseded = (
        update(AccountToken)
        .where(
            AccountToken.account_id == account_id,
            AccountToken.purpose == purpose,
            AccountToken.outbox_id != outbox_id,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    await db.execute(superseded)
    await db.execute(written)
    return minted


def _live(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > now,
        User.id == AccountToken.account_id,
        User.is_active.is_(True),
        AccountToken.binding == CURRENT_BINDING,
    )


def spend_token(token: str, *, purpose: str, now: datetime) -> CTE:
    """The CTE that spends a live token of this purpose: `account_id`, `new_email` of the row it
    spent, or no row (unknown, spent, expired, another purpose, or minted before a change)."""
    return (
        update(AccountToken)
        .where(
            AccountToken.token_hash == hash_token(token),
            AccountToken.purpose == purpose,
            *_live(now),
        )
        .values(used_at=now)
        .returning(AccountToken.account_id, AccountToken.new_email)
        .cte("spent_token")
    )


async def peek_token(
    db: AsyncSession, token: str, *, purpose: str, now: datetime
) -> tuple[uuid.UUID, str, str | None] | None:
    """(account id, email, new email) of a live token, spending nothing: what a flow needs to
    check a new password or address before the statement that spends it."""
    row = (
        await db.execute(
            select(User.id, User.email, AccountToken.new_email)
            .select_from(AccountToken)
            .join(User, User.id == AccountToken.account_id)
            .where(
                AccountToken.token_hash == hash_token(token),
                AccountToken.purpose == purpose,
                *_live(now),
            )
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


def try_code(codes: list[bytes], *, email: str, purpose: str, now: datetime) -> CTE:
    """The CTE that counts one try of a code against the account's live code of this purpose,
    and spends it if it matches: `account_id`, `matched` (no row: no live code, or its tries
    are used up)."""
    matches = AccountToken.code_hash.in_(codes)
    return (
        update(AccountToken)
        .where(
            User.email == email,
            AccountToken.purpose == purpose,
            AccountToken.code_hash.is_not(None),
            AccountToken.code_attempts < CODE_MAX_ATTEMPTS,
            *_live(now),
        )
        .values(
            code_attempts=AccountToken.code_attempts + 1,
            used_at=case((matches, literal(now)), else_=None),
        )
        .returning(AccountToken.account_id, and_(matches).label("matched"))
        .cte("tried_code")
    )


async def purge_dead_account_tokens(db: AsyncSession, *, before: datetime, limit: int) -> int:
    """Tokens that expired before `before` (spent ones included: a spent token's row says only
    that a message was used, and goes when it would have expired). In a savepoint: on the
    schema before migration 0010 the table is missing, and there is nothing to do."""
    stale = (
        select(AccountToken.id)
        .where(AccountToken.expires_at < before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    try:
        async with db.begin_nested():
            return await delete_batch(db, AccountToken.id, stale)
    except ProgrammingError as error:
        if names_a_missing_table(error):
            return 0
        raise
