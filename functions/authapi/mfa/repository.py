"""The MFA rows: factors, recovery codes and login challenges. Reads and builds writes; the
flows (authapi.auth.mfa_service) decide. A flow's audit rows ride in the statement that
spends or stores (`audit` / `on_match` / `on_miss`: events recorded only when it did)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Delete,
    Insert,
    Label,
    LargeBinary,
    String,
    Update,
    Uuid,
    and_,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
    values,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import ReturningDelete, UpdateBase

from authapi.audit.record import AuditEntry, audit_writes
from authapi.db.batches import delete_batch
from authapi.db.expand import names_a_missing_table
from authapi.mfa.totp import STEP_SECONDS
from authapi.models import MfaChallenge, MfaFactor, MfaRecoveryCode, User
from authapi.tenant_scope import tenant_selected, tenant_values

_TIMESTAMPTZ = DateTime(timezone=True)
MAX_CODES_PER_CHALLENGE = 5  # issue 14: one challenge accepts at most 5 codes


def recorded(
    events: Sequence[AuditEntry], *, when: ColumnElement[bool] | None = None, name: str = "audit"
) -> list[CTE]:
    """The events' audit and outbox rows as CTEs of another statement, only `when`."""
    writes = [write for entry in events for write in audit_writes(entry, when=when)]
    return [write.cte(f"{name}_{index}") for index, write in enumerate(writes)]


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, _TIMESTAMPTZ)


def has_active_factor(
    user_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> ColumnElement[bool]:
    """Whether the account has an activated factor: a column of the login's own statement."""
    return exists(
        select(MfaFactor.user_id).where(
            MfaFactor.user_id == user_id, MfaFactor.activated_at.is_not(None)
        )
    )


@dataclass(frozen=True)
class FactorSummary:
    """The account's active authenticator as its owner sees it (/me) and step-up reads it."""

    created_at: datetime  # when it was activated (its first code)
    last_used_at: datetime | None  # the last code's time step, or the last recovery code used
    recovery_codes_left: int


def factor_summary_columns(
    user_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> tuple[Label[Any], ...]:
    """Columns for a statement that reads the account anyway (the bearer's session): what
    `factor_summary` turns into a FactorSummary, with no extra round trip."""
    active = and_(MfaFactor.user_id == user_id, MfaFactor.activated_at.is_not(None))
    codes = MfaRecoveryCode.user_id == user_id
    return (
        select(MfaFactor.activated_at).where(active).scalar_subquery().label("mfa_activated_at"),
        select(MfaFactor.last_step).where(active).scalar_subquery().label("mfa_last_step"),
        select(func.max(MfaRecoveryCode.used_at))
        .where(codes)
        .scalar_subquery()
        .label("mfa_recovery_used_at"),
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(codes, MfaRecoveryCode.used_at.is_(None))
        .scalar_subquery()
        .label("mfa_recovery_left"),
    )


def factor_summary(
    activated_at: object, last_step: object, recovery_used_at: object, recovery_left: object
) -> FactorSummary | None:
    """The columns of `factor_summary_columns` as one value; None: no active factor."""
    if not isinstance(activated_at, datetime):
        return None
    used = [
        moment
        for moment in (
            datetime.fromtimestamp(last_step * STEP_SECONDS, tz=UTC)
            if isinstance(last_step, int)
            else None,
            recovery_used_at if isinstance(recovery_used_at, datetime) else None,
        )
        if moment is not None
    ]
    return FactorSummary(
        created_at=activated_at,
        last_used_at=max(used) if used else None,
        recovery_codes_left=int(recovery_left) if isinstance(recovery_left, int) else 0,
    )


@dataclass(frozen=True)
class Factor:
    user_id: uuid.UUID
    key_id: str
    sealed_secret: bytes
    active: bool
    last_step: int | None


def _factor(row: MfaFactor | None) -> Factor | None:
    if row is None:
        return None
    return Factor(
        user_id=row.user_id,
        key_id=row.key_id,
        sealed_secret=row.sealed_secret,
        active=row.activated_at is not None,
        last_step=row.last_step,
    )


async def get_factor(db: AsyncSession, *, user_id: uuid.UUID) -> Factor | None:
    return _factor(await db.scalar(select(MfaFactor).where(MfaFactor.user_id == user_id)))


async def start_enrolment(
    db: AsyncSession,
    *,
    user_id: uuid.UUID,
    key_id: str,
    sealed_secret: bytes,
    now: datetime,
    audit: AuditEntry | None = None,
) -> bool:
    """Store a new, inactive secret, replacing an earlier unfinished enrolment; False (nothing
    written, nothing audited) when the account already has an active factor."""
    values = pg_insert(MfaFactor).values(
        user_id=user_id,
        key_id=key_id,
        sealed_secret=sealed_secret,
        created_at=now,
        **tenant_values(),
    )
    statement = values.on_conflict_do_update(
        index_elements=[MfaFactor.user_id],
        set_={"key_id": key_id, "sealed_secret": sealed_secret, "created_at": now},
        where=MfaFactor.activated_at.is_(None),
    ).returning(MfaFactor.user_id)
    if audit is None:
        return (await db.scalar(statement)) is not None
    enrolled = statement.cte("enrolled")
    events = recorded([audit], when=exists(select(enrolled.c.user_id)))
    return (await db.scalar(select(enrolled.c.user_id).add_cte(*events))) is not None


def accept_step(*, user_id: uuid.UUID, step: int, now: datetime) -> Update:
    """Record an accepted time step (and activate the factor at its first code); matches no row
    when that step or a later one was already accepted: the replay guard, race-free."""
    return (
        update(MfaFactor)
        .where(
            MfaFactor.user_id == user_id,
            or_(MfaFactor.last_step.is_(None), MfaFactor.last_step < step),
        )
        .values(last_step=step, activated_at=func.coalesce(MfaFactor.activated_at, _at(now)))
        .returning(MfaFactor.user_id)
    )


def use_recovery_code(*, user_id: uuid.UUID, hmacs: tuple[bytes, ...], now: datetime) -> Update:
    """Spend one unused recovery code; matches no row for a wrong or spent one."""
    return (
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user_id,
            MfaRecoveryCode.code_hmac.in_(hmacs),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(MfaRecoveryCode.user_id)
    )


def forget_recovery_codes(*, user_id: uuid.UUID) -> Delete:
    return delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id)


def store_recovery_codes(*, user_id: uuid.UUID, key_id: str, hmacs: list[bytes]) -> Insert:
    return insert(MfaRecoveryCode).values(
        [
            {"user_id": user_id, "code_hmac": digest, "key_id": key_id, **tenant_values()}
            for digest in hmacs
        ]
    )


def store_recovery_codes_when(
    *, user_id: uuid.UUID, key_id: str, hmacs: list[bytes]
) -> Conditional:
    """The codes' insert as INSERT ... SELECT ... WHERE `condition` (an INSERT ... VALUES has no
    WHERE): for `all_matched`, which runs it only when the factor's write matched."""
    new_codes = values(column("code_hmac", LargeBinary), name="new_codes").data(
        [(digest,) for digest in hmacs]
    )

    def when(condition: ColumnElement[bool]) -> Insert:
        tenant_names, tenant_columns = tenant_selected()
        rows = select(
            literal(user_id, Uuid), new_codes.c.code_hmac, literal(key_id, String), *tenant_columns
        ).where(condition)
        return insert(MfaRecoveryCode).from_select(
            ["user_id", "code_hmac", "key_id", *tenant_names], rows
        )

    return when


def forget_factor(*, user_id: uuid.UUID) -> ReturningDelete[Any]:
    """RETURNING the account's id: no row when it had no factor left to forget."""
    return delete(MfaFactor).where(MfaFactor.user_id == user_id).returning(MfaFactor.user_id)


async def unused_recovery_codes(db: AsyncSession, *, user_id: uuid.UUID) -> int:
    count = await db.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


@dataclass(frozen=True)
class NewChallenge:
    token_hash: bytes
    user_id: uuid.UUID
    client_id: str
    user_agent: str | None
    ip: str | None
    now: datetime
    expires_at: datetime

    def insert(self) -> Insert:
        return insert(MfaChallenge).values(
            token_hash=self.token_hash,
            user_id=self.user_id,
            client_id=self.client_id,
            user_agent=self.user_agent,
            ip=self.ip,
            created_at=self.now,
            expires_at=self.expires_at,
            **tenant_values(),
            attempts=0,  # explicit: as the final statement of chained_writes it was sent as NULL
        )


@dataclass(frozen=True)
class ClaimedChallenge:
    """A live challenge that just counted one more code, with what checking the code needs."""

    user_id: uuid.UUID
    email: str
    client_id: str
    user_agent: str | None
    ip: str | None
    factor: Factor


async def claim_challenge_attempt(
    db: AsyncSession, *, token_hash: bytes, now: datetime
) -> ClaimedChallenge | None:
    """Count one code against a live, unused challenge with attempts left, and read the account
    and its factor, in one statement; None when the challenge is unknown, spent, expired or out
    of attempts (or the account lost its factor or was disabled meanwhile)."""
    claimed = (
        update(MfaChallenge)
        .where(
            MfaChallenge.token_hash == token_hash,
            MfaChallenge.used_at.is_(None),
            MfaChallenge.expires_at > _at(now),
            MfaChallenge.attempts < MAX_CODES_PER_CHALLENGE,
        )
        .values(attempts=MfaChallenge.attempts + 1)
        .returning(
            MfaChallenge.user_id,
            MfaChallenge.client_id,
            MfaChallenge.user_agent,
            MfaChallenge.ip,
        )
        .cte("claimed")
    )
    statement = (
        select(claimed, User.email, MfaFactor)
        .join(User, User.id == claimed.c.user_id)
        .join(MfaFactor, MfaFactor.user_id == claimed.c.user_id)
        .where(User.is_active, MfaFactor.activated_at.is_not(None))
    )
    row = (await db.execute(statement)).one_or_none()
    if row is None:
        return None
    factor = _factor(row.MfaFactor)
    assert factor is not None
    return ClaimedChallenge(
        user_id=row.user_id,
        email=row.email,
        client_id=row.client_id,
        user_agent=row.user_agent,
        ip=row.ip,
        factor=factor,
    )


def spend_challenge(*, token_hash: bytes, now: datetime) -> Update:
    """Single use: matches no row when a concurrent request spent it first."""
    return (
        update(MfaChallenge)
        .where(MfaChallenge.token_hash == token_hash, MfaChallenge.used_at.is_(None))
        .values(used_at=now)
        .returning(MfaChallenge.token_hash)
    )


# a write `all_matched` runs only if the factor's matched: built from that condition
Conditional = Callable[[ColumnElement[bool]], UpdateBase]


def _conditioned(
    write: Update | Delete | Conditional, condition: ColumnElement[bool]
) -> UpdateBase:
    if isinstance(write, Update | Delete):
        return write.where(condition)
    return write(condition)


async def all_matched(
    db: AsyncSession,
    *writes: Update,
    along: Sequence[Update | Delete | Conditional] = (),
    on_match: Sequence[AuditEntry] = (),
    on_miss: Sequence[AuditEntry] = (),
) -> bool:
    """Run `writes` (each RETURNING) as one statement; whether every one of them matched a row.

    For the writes that spend something (a time step, a recovery code, a challenge): the caller
    goes on only when all of them did, so two concurrent requests cannot both spend one.

    The writes after the first run only when the first (the factor itself) matched: the CTEs of
    one statement all run, and each commits with it, so a wrong recovery code must not spend
    the challenge it was given with (its answer would be lost to the next, right, code).

    `along`: writes on the same condition that need not match a row (what an activation
    stores with it: its recovery codes, the session's mark), so that a cut after the statement
    never leaves one without the other. None of them may write a row another one writes.

    `on_match`: events recorded when the factor's write matched (it spent what was given);
    `on_miss`: when it did not (a wrong, spent or replayed factor)."""
    first = writes[0].cte("spent_0")
    factor_matched = exists(select(first.c[0]))
    ctes = [first] + [
        write.where(factor_matched).cte(f"spent_{index}")
        for index, write in enumerate(writes[1:], start=1)
    ]
    statement = select(*(exists(select(cte.c[0])).label(cte.name) for cte in ctes))
    for index, write in enumerate(along):
        statement = statement.add_cte(_conditioned(write, factor_matched).cte(f"along_{index}"))
    statement = statement.add_cte(
        *recorded(on_match, when=factor_matched, name="matched_audit"),
        *recorded(on_miss, when=not_(factor_matched), name="missed_audit"),
    )
    row = (await db.execute(statement)).one()
    return all(row)


async def purge_dead_challenges(db: AsyncSession, *, now: datetime, limit: int) -> int:
    """Challenges nothing can answer any more: spent, or expired (their origin, an address and
    a User-Agent, goes with them). In a savepoint: on the schema before migration 0011 the
    table is missing, and there is nothing to do."""
    stale = (
        select(MfaChallenge.token_hash)
        .where(or_(MfaChallenge.used_at.is_not(None), MfaChallenge.expires_at <= _at(now)))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    try:
        async with db.begin_nested():
            return await delete_batch(db, MfaChallenge.token_hash, stale)
    except ProgrammingError as error:
        if names_a_missing_table(error):
            return 0
        raise
