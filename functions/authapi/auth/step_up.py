"""The step-up guard (issue 14): for an account with a second factor, sensitive actions (password
change, email change, account deletion, disabling MFA) need an access token whose session gave
that factor within `AUTHAPI_MFA_STEP_UP_SECONDS`. Kept apart from the MFA flows so the lifecycle
imports no TOTP library."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from authapi.auth.principal import AuthContext, Principal
from authapi.auth.tokens import SECOND_FACTORS
from authapi.exceptions import StepUpRequiredError

logger = logging.getLogger(__name__)


def amr_of(principal: Principal) -> tuple[str, ...]:
    """The token's `amr` (tokens from before the claim: a password)."""
    claims = principal.claims.claims if principal.claims is not None else {}
    amr = claims.get("amr", ["pwd"])
    return tuple(str(value) for value in amr) if isinstance(amr, list) else ("pwd",)


def require_recent_mfa(ctx: AuthContext, principal: Principal) -> None:
    """Nothing for an account without a second factor; otherwise the token must carry one
    (`amr`) given within the step-up window (`mfa_time`), else 403 `mfa_required`: the client
    answers with POST /api/v1/auth/mfa/step-up and retries with the token it returns."""
    if principal.factor is None:
        return
    claims = principal.claims.claims if principal.claims is not None else {}
    given_at = claims.get("mfa_time")
    now = ctx.now()
    recent = (
        isinstance(given_at, int)
        and not isinstance(given_at, bool)
        and now - datetime.fromtimestamp(given_at, tz=now.tzinfo)
        <= timedelta(seconds=ctx.settings.mfa_step_up_seconds)
    )
    if not (recent and SECOND_FACTORS.intersection(amr_of(principal))):
        logger.warning("step-up required", extra={"user_id": str(principal.user.id)})
        raise StepUpRequiredError()
