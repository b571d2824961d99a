"""HTTP routes of /api/v1/auth/sessions: the caller's live sessions, and ending one of them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from authapi.auth import sessions
from authapi.auth.dependencies import AuthCtx, BearerToken
from authapi.auth.endpoints import BEARER_ERRORS
from authapi.auth.schemas import SessionOut, SessionsOut
from authapi.exceptions import SessionNotFoundError
from authapi.problems import problem_responses
from authapi.resources import DbSession

router = APIRouter(prefix="/api/v1/auth", tags=["sessions"])


@router.get(
    "/sessions",
    responses=problem_responses(*BEARER_ERRORS, validates_body=False),
)
async def list_sessions(token: BearerToken, db: DbSession, ctx: AuthCtx) -> SessionsOut:
    """The caller's live sessions, newest first; `current` marks the one asking."""
    found = await sessions.list_sessions(db, ctx, access_token=token)
    return SessionsOut(sessions=[SessionOut.model_validate(session) for session in found])


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*BEARER_ERRORS, SessionNotFoundError),
)
async def end_session(
    session_id: uuid.UUID, token: BearerToken, db: DbSession, ctx: AuthCtx
) -> Response:
    """End one of the caller's own sessions: its refresh and access tokens stop working."""
    await sessions.end_session(db, ctx, access_token=token, session_id=session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
