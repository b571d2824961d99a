"""RFC 7009 revocation and RFC 7662 introspection, over the auth domain's sessions and tokens."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.auth import repository, session_repository, token_repository
from authapi.auth.principal import AuthContext, verified_claims
from authapi.auth.tokens import REFRESH_TOKEN_PREFIX, AccessTokenClaims, hash_refresh_token
from authapi.exceptions import InvalidAccessTokenError
from authapi.observability import metrics
from authapi.signing.clients import OAuthClient

logger = logging.getLogger(__name__)

INACTIVE: dict[str, Any] = {"active": False}


async def _access_claims(ctx: AuthContext, token: str) -> AccessTokenClaims | None:
    try:
        return await verified_claims(ctx, token)
    except InvalidAccessTokenError:
        return None


async def revoke(db: AsyncSession, ctx: AuthContext, *, token: str, client: OAuthClient) -> None:
    """End the session of a refresh or access token of this client's, at once; anything else
    (not ours, ended already, another client's) is left as it is, and answered the same."""
    settings, now = ctx.settings, ctx.now()
    if token.startswith(REFRESH_TOKEN_PREFIX):
        ended = await session_repository.end_session_of_token(
            db,
            refresh_token_hash=hash_refresh_token(token),
            client_id=client.client_id,
            default_client_id=settings.default_client_id,
            reason="oauth_revoke",
            now=now,
        )
    else:
        claims = await _access_claims(ctx, token)
        ended = claims is not None and await session_repository.end_session_of_token(
            db,
            session_id=claims.session_id,
            client_id=client.client_id,
            default_client_id=settings.default_client_id,
            reason="oauth_revoke",
            now=now,
        )
    if ended:
        metrics.count(metrics.TOKEN_REVOKED)
    logger.info("oauth revocation", extra={"client_id": client.client_id, "ended": ended})


async def introspect(db: AsyncSession, ctx: AuthContext, *, token: str) -> dict[str, Any]:
    """RFC 7662: `{"active": false}` unless the token is ours, in date and its session live; for
    an access token its claims, for a refresh token whose it is. One statement at most."""
    settings, now = ctx.settings, ctx.now()
    if token.startswith(REFRESH_TOKEN_PREFIX):
        live = await token_repository.find_live_token(
            db, token_hash=hash_refresh_token(token), now=now
        )
        if live is None:
            return INACTIVE
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": live.client_id or settings.default_client_id,
            "sub": str(live.user_id),
            "sid": str(live.session_id),
            "iat": int(live.issued_at.timestamp()),
            "exp": int(live.expires_at.timestamp()),
        }
    claims = await _access_claims(ctx, token)
    if claims is None:
        return INACTIVE
    user = await repository.get_user_in_live_session(
        db, user_id=claims.user_id, session_id=claims.session_id, now=now
    )
    if user is None:  # logged out, revoked, expired, or the account disabled: not active
        return INACTIVE
    return {
        **claims.claims,
        "active": True,
        "token_type": "Bearer",
        "client_id": claims.client_id or settings.default_client_id,
    }
