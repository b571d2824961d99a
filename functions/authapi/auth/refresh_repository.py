"""Refresh tokens: exchanging one (one statement), and what a spent one was (one statement).

A statement joins the session and its user (a disabled account has no live session); it writes
the session's `last_used_at`, never the users table. A session's tokens are exchanged only for
the client it belongs to (migration 0008's `client_id`; db/expand.py serves the schema before).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    LargeBinary,
    Result,
    String,
    Uuid,
    and_,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from authapi.db.expand import execute_on_either_schema, names_a_missing_column
from authapi.db.lock_timeout import LockWaitExceeded, with_bounded_lock_wait
from authapi.exceptions import RefreshInProgressError
from authapi.models import AuthSession, RefreshToken, User
from authapi.tenant_scope import current_tenant, schema_has_tenants

_TIMESTAMPTZ = DateTime(timezone=True)


@dataclass(frozen=True)
class Rotation:
    session_id: uuid.UUID
    user_id: uuid.UUID
    session_created_at: datetime  # when its sign-in happened: the tokens' `auth_time`
    email_verified: bool = False
    # how the session authenticated (migration 0011; None: a password alone, or an older schema)
    amr: str | None = None
    mfa_at: datetime | None = None


@dataclass(frozen=True)
class PresentingClient:
    """The client presenting a refresh token, and the one a session without a client is."""

    client_id: str
    default_client_id: str


@dataclass(frozen=True)
class Successor:
    """The token that is to succeed the presented one: its hash, and the data key it came from."""

    token_hash: bytes
    key_id: str
    expires_at: datetime


# Built once per schema shape, with bind parameters: building these CTEs on every request took
# 1.2 ms of a refresh's ~8 ms of CPU (and a fresh cache key each time), for a statement that
# never changes.
def client_matches(
    presenting: ColumnElement[str], default: ColumnElement[str]
) -> ColumnElement[bool]:
    """The session belongs to the presenting client; NULL (a session from before migration 0008,
    when the JSON API was the only client) is the default client's."""
    return func.coalesce(AuthSession.client_id, default) == presenting


@cache
def _rotation(
    *,
    with_client: bool,
    with_verification: bool = False,
    with_mfa: bool = False,
    with_tenant: bool = False,
) -> Executable:
    """`with_tenant`: the schema has migration 0014's tenant_id; the successor's tenant is a
    bind parameter (`successor_tenant_id`), never a value built into this cached statement.
    Its reads and updates get their tenant predicates at execution (db/tenant_criteria.py)."""
    now = bindparam("now", type_=_TIMESTAMPTZ)
    # on the schema before migration 0008 sessions record no client: none can be checked
    same_client = (
        (
            client_matches(
                bindparam("presenting_client", type_=String()),
                bindparam("default_client", type_=String()),
            ),
        )
        if with_client
        else ()
    )
    # the token's row and its session's, locked without waiting (db/lock_timeout.py): a
    # concurrent refresh holding them makes this one fail at once and try again shortly
    locked = (
        select(
            RefreshToken.id.label("token_id"),
            RefreshToken.session_id,
            AuthSession.user_id,
            AuthSession.expires_at,
            AuthSession.created_at.label("session_created_at"),
            *((User.email_verified_at,) if with_verification else ()),
            *((AuthSession.amr, AuthSession.mfa_at) if with_mfa else ()),
        )
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(
            RefreshToken.token_hash == bindparam("presented_hash", type_=LargeBinary()),
            RefreshToken.consumed_at.is_(None),
            RefreshToken.expires_at > now,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            User.is_active.is_(True),
            *same_client,
        )
        .with_for_update(of=(RefreshToken, AuthSession), nowait=True, key_share=True)
        .cte("locked")
    )
    consumed = (
        update(RefreshToken)
        .where(RefreshToken.id == locked.c.token_id)
        .values(consumed_at=now)
        .returning(
            locked.c.session_id,
            locked.c.user_id,
            locked.c.expires_at,
            locked.c.session_created_at,
            *((locked.c.email_verified_at,) if with_verification else ()),
            *((locked.c.amr, locked.c.mfa_at) if with_mfa else ()),
        )
        .cte("consumed")
    )
    columns = ["id", "session_id", "token_hash", "created_at", "expires_at", "key_id"]
    values = [
        bindparam("successor_id", type_=Uuid()),
        consumed.c.session_id,
        bindparam("successor_hash", type_=LargeBinary()),
        now,
        # a successor never outlives its session
        func.least(bindparam("successor_expires_at", type_=_TIMESTAMPTZ), consumed.c.expires_at),
        bindparam("successor_key_id", type_=String()),
    ]
    if with_tenant:
        columns.append("tenant_id")
        values.append(bindparam("successor_tenant_id", type_=String()))
    inserted = insert(RefreshToken).from_select(columns, select(*values)).cte("successor")
    used = (
        update(AuthSession)
        .where(AuthSession.id == select(consumed.c.session_id).scalar_subquery())
        .values(last_used_at=now)
        .cte("used")
    )
    return (
        select(
            consumed.c.session_id,
            consumed.c.user_id,
            consumed.c.session_created_at,
            *((consumed.c.email_verified_at,) if with_verification else ()),
            *((consumed.c.amr, consumed.c.mfa_at) if with_mfa else ()),
        )
        .add_cte(inserted)
        .add_cte(used)
    )


async def rotate_refresh_token(
    db: AsyncSession,
    *,
    token_hash: bytes,
    successor: Successor,
    now: datetime,
    lock_timeout_ms: int,
    client: PresentingClient,
) -> Rotation | None:
    """Consume a live refresh token, insert its successor and mark the session used: one statement.

    Returns None when the token is not live (unknown, spent, expired, or its session or user is
    gone) or its session is another client's. The row lock serialises concurrent refreshes of one
    token: a later one finds it held, tries again (for at most `lock_timeout_ms` in all, then
    RefreshInProgressError, with nothing written), and then finds `consumed_at` set and gets None.
    """

    # no name is a column's: in an ORM execute, a parameter named after a column of an UPDATE's
    # table is taken as a value to SET
    parameters = {
        "presented_hash": token_hash,
        "now": now,
        "successor_id": uuid.uuid4(),
        "successor_hash": successor.token_hash,
        "successor_expires_at": successor.expires_at,
        "successor_key_id": successor.key_id,
        "presenting_client": client.client_id,
        "default_client": client.default_client_id,
        "successor_tenant_id": current_tenant.get(),
    }
    with_tenant = schema_has_tenants.get()

    async def attempt() -> Result[object]:
        try:
            # the newest schema (0011: the session's amr and mfa_at) first
            return await db.execute(
                _rotation(
                    with_client=True, with_verification=True, with_mfa=True, with_tenant=with_tenant
                ),
                parameters,
            )
        except ProgrammingError as error:
            if not names_a_missing_column(error):
                raise
        try:
            # 0010: the account's email_verified_at
            return await db.execute(
                _rotation(with_client=True, with_verification=True, with_tenant=with_tenant),
                parameters,
            )
        except ProgrammingError as error:
            if not names_a_missing_column(error):
                raise
        return await execute_on_either_schema(
            db,
            lambda with_client: _rotation(with_client=with_client, with_tenant=with_tenant),
            parameters,
        )

    try:
        result = await with_bounded_lock_wait(attempt, wait_ms=lock_timeout_ms)
    except LockWaitExceeded:
        raise RefreshInProgressError() from None
    row = result.first()
    if row is None:
        return None
    # on the schema before migration 0010 nothing can be verified: False, as login says there
    verified_at = getattr(row, "email_verified_at", None)
    mapping = row._asdict()  # without 0011's columns on an older schema
    return Rotation(
        session_id=row.session_id,
        user_id=row.user_id,
        session_created_at=row.session_created_at,
        email_verified=verified_at is not None,
        amr=mapping.get("amr"),
        mfa_at=mapping.get("mfa_at"),
    )


@cache
def _unverified_holder(*, with_client: bool) -> Executable:
    # only a live token of the presenting client's session: any other token goes on to the
    # exchange, which answers it as unknown or as reuse (and another client learns nothing)
    same_client = (
        (
            client_matches(
                bindparam("presenting_client", type_=String()),
                bindparam("default_client", type_=String()),
            ),
        )
        if with_client
        else ()
    )
    return (
        select(User.email_verified_at.is_(None))
        .join(AuthSession, AuthSession.user_id == User.id)
        .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
        .where(
            RefreshToken.token_hash == bindparam("presented_hash", type_=LargeBinary()),
            RefreshToken.consumed_at.is_(None),
            AuthSession.revoked_at.is_(None),
            *same_client,
        )
    )


async def unverified_account_holds(
    db: AsyncSession, *, token_hash: bytes, client: PresentingClient
) -> bool:
    """Whether this refresh token is a live one of the presenting client's session on an account
    whose email is not verified (with AUTHAPI_REQUIRE_VERIFIED_EMAIL on, checked before the
    exchange spends anything)."""
    parameters = {
        "presented_hash": token_hash,
        "presenting_client": client.client_id,
        "default_client": client.default_client_id,
    }
    try:
        result = await execute_on_either_schema(
            db, lambda with_client: _unverified_holder(with_client=with_client), parameters
        )
    except ProgrammingError as error:
        if not names_a_missing_column(error):
            raise
        return True  # before migration 0010 no address is verified: as login says there
    return bool(result.scalar())


@dataclass(frozen=True)
class SpentToken:
    """A refresh token that was exchanged already, and where its session stands now."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    session_created_at: datetime
    consumed_at: datetime
    session_live: bool  # neither revoked nor expired, and its user active
    same_client: bool  # the session belongs to the client presenting the token
    # which of the hashes asked about is the session's current token (live, unspent), if any
    current_successor_hash: bytes | None
    # the session's second factor (migration 0011), which a repeated exchange's pair keeps too
    amr: str | None = None
    mfa_at: datetime | None = None

    def repeated_successor(self, *, now: datetime, interval_seconds: int) -> bytes | None:
        """The hash of the current token to hand out again, if presenting this one now repeats
        its exchange (within the reuse interval after it, and its successor still current)
        rather than reusing it."""
        if interval_seconds <= 0 or not self.session_live:
            return None
        if now - self.consumed_at > timedelta(seconds=interval_seconds):
            return None
        return self.current_successor_hash


def _spent(
    token_hash: bytes,
    successor_hashes: Sequence[bytes],
    now: datetime,
    client: PresentingClient,
    with_client: bool,
    with_mfa: bool = False,
) -> Executable:
    successor = aliased(RefreshToken)
    current = (
        select(successor.token_hash)
        .where(
            successor.session_id == RefreshToken.session_id,
            successor.token_hash.in_(successor_hashes),
            successor.consumed_at.is_(None),
            successor.expires_at > now,
        )
        .limit(1)
        .scalar_subquery()
    )
    live = and_(
        AuthSession.revoked_at.is_(None), AuthSession.expires_at > now, User.is_active.is_(True)
    )
    # before migration 0008 no client is recorded: any client is the session's
    same_client = (
        client_matches(literal(client.client_id), literal(client.default_client_id))
        if with_client
        else true()
    )
    return (
        select(
            RefreshToken.session_id,
            RefreshToken.consumed_at,
            AuthSession.user_id,
            AuthSession.created_at.label("session_created_at"),
            live.label("session_live"),
            same_client.label("same_client"),
            current.label("current_successor_hash"),
            *((AuthSession.amr, AuthSession.mfa_at) if with_mfa else ()),
        )
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.consumed_at.is_not(None))
    )


async def find_spent_token(
    db: AsyncSession,
    *,
    token_hash: bytes,
    successor_hashes: Sequence[bytes],
    now: datetime,
    client: PresentingClient,
) -> SpentToken | None:
    """The spent token with this hash, its session (and whether it is the presenting client's),
    and which of `successor_hashes` (its successor under each data key) is that session's current
    token: one statement, no lock."""
    try:
        # the newest schema (0011: the session's amr and mfa_at) first
        result = await db.execute(_spent(token_hash, successor_hashes, now, client, True, True))
    except ProgrammingError as error:
        if not names_a_missing_column(error):
            raise
        result = await execute_on_either_schema(
            db,
            lambda with_client: _spent(token_hash, successor_hashes, now, client, with_client),
        )
    row = result.first()
    if row is None:
        return None
    mapping = row._asdict()
    return SpentToken(
        session_id=row.session_id,
        user_id=row.user_id,
        session_created_at=row.session_created_at,
        consumed_at=row.consumed_at,
        session_live=bool(row.session_live),
        same_client=bool(row.same_client),
        current_successor_hash=row.current_successor_hash,
        amr=mapping.get("amr"),
        mfa_at=mapping.get("mfa_at"),
    )
