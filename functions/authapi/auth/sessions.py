"""The sessions API's flows: the caller's live sessions, and ending one of them."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.audit.events import EventType
from authapi.auth import session_repository
from authapi.auth.principal import AuthContext, log_refused_token, verified_claims
from authapi.auth.tokens import AccessTokenClaims
from authapi.exceptions import InvalidAccessTokenError, SessionNotFoundError
from authapi.observability import metrics

logger = logging.getLogger(__name__)


async def _caller(
    ctx: AuthContext, access_token: str
) -> tuple[session_repository.Caller, AccessTokenClaims]:
    claims = await verified_claims(ctx, access_token)
    caller = session_repository.Caller(user_id=claims.user_id, session_id=claims.session_id)
    return caller, claims


def _session_ended(caller: session_repository.Caller) -> InvalidAccessTokenError:
    log_refused_token("access", reason="session_ended", session_id=caller.session_id)
    return InvalidAccessTokenError()


async def list_sessions(
    db: AsyncSession, ctx: AuthContext, *, access_token: str
) -> list[session_repository.SessionRow]:
    """The live sessions of the account behind an access token, its own marked `current`."""
    caller, _ = await _caller(ctx, access_token)
    sessions = await session_repository.list_live_sessions(db, caller=caller, now=ctx.now())
    if not sessions:  # a live caller always finds at least its own
        raise _session_ended(caller)
    return sessions


async def end_session(
    db: AsyncSession, ctx: AuthContext, *, access_token: str, session_id: uuid.UUID
) -> None:
    """End one of the caller's own live sessions (its own included); anyone else's, an ended one
    and an unknown id all answer alike, so ids of other accounts' sessions are not confirmed."""
    caller, claims = await _caller(ctx, access_token)
    reason = "ended_by_user"
    event = session_repository.EndedEvent(
        EventType.SESSION_REVOKED,
        session_id=session_id,
        details={"reason": reason, "by_session_id": str(caller.session_id)},
        client_id=claims.client_id or ctx.settings.default_client_id,
    )
    ended = await session_repository.end_sessions(
        db,
        caller=caller,
        which=session_repository.session_with_id(session_id),
        reason=reason,
        now=ctx.now(),
        event=event,
    )
    if not ended.caller_live:
        raise _session_ended(caller)
    if session_id not in ended.session_ids:
        raise SessionNotFoundError()
    metrics.count(metrics.LOGOUT)
    logger.info(
        "session ended", extra={"user_id": str(caller.user_id), "session_id": str(session_id)}
    )
