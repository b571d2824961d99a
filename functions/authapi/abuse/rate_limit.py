"""Per-IP rate limits, as a route dependency: `dependencies=[rate_limited(LOGIN)]`.

The hit is an independent write on the request's own session: it stands even when the route then
fails (a wrong password, a taken email), since failures are exactly what an attacker produces. A
fixed window keeps it to one upsert per request.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, params
from starlette.types import Scope

from authapi.abuse import repository
from authapi.client_address import client_ip, client_network
from authapi.config import Settings
from authapi.db.session import independent_write
from authapi.exceptions import ClientAddressUnknownError, TooManyAttemptsError
from authapi.observability import metrics
from authapi.resources import ClockDep, DbSession, KeyProviderDep, SettingsDep
from authapi.signing.keys import DataKeys


@dataclass(frozen=True)
class RateLimitedAction:
    """An action counted per client IP, and the setting that caps it per window."""

    name: str
    limit: Callable[[Settings], int]


LOGIN = RateLimitedAction("login", lambda settings: settings.rate_limit_login)
REGISTER = RateLimitedAction("register", lambda settings: settings.rate_limit_register)
REFRESH = RateLimitedAction("refresh", lambda settings: settings.rate_limit_refresh)
REVOKE = RateLimitedAction("revoke", lambda settings: settings.rate_limit_revoke)
INTROSPECT = RateLimitedAction("introspect", lambda settings: settings.rate_limit_introspect)
# the account lifecycle (issue 13)
MAIL = RateLimitedAction("mail", lambda settings: settings.rate_limit_mail)
ACCOUNT_TOKEN = RateLimitedAction(
    "account_token", lambda settings: settings.rate_limit_account_token
)
PASSWORD_CHECK = RateLimitedAction(
    "password_check", lambda settings: settings.rate_limit_password_check
)


logger = logging.getLogger(__name__)


def trusted_client_network(scope: Scope) -> str:
    """The client to count this request against (an IPv4 address, an IPv6 /64), or 400.

    No address means a front door misconfigured (an ALB in `preserve` mode, a proxy stripping
    the header): refusing keeps the limits per client instead of one bucket shared by everyone,
    and the ERROR line and metric make the operator look.
    """
    address = client_ip(scope)
    if address is None:
        logger.error("client address unknown; request refused", extra={"path": scope.get("path")})
        metrics.count(metrics.CLIENT_ADDRESS_MISSING)
        raise ClientAddressUnknownError()
    return client_network(address)


BUCKET_PURPOSE = "rate-limit:bucket"


def bucket_key(data_keys: DataKeys, action: RateLimitedAction, network: str) -> str:
    """A fixed-size key (64 hex digits) for the action and client, whatever the address: keyed,
    since a bare hash of the small IPv4 space is reversed by trying every address."""
    return data_keys.hmac(BUCKET_PURPOSE, f"{action.name}:{network}").hex()


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


# counts a hit for an action known only once the body is read (the OAuth token endpoint's
# grant type decides between the login and the refresh bucket)
RateLimiter = Callable[[RateLimitedAction], Awaitable[None]]


async def _rate_limiter(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    clock: ClockDep,
    key_provider: KeyProviderDep,
) -> RateLimiter:
    async def count_hit(action: RateLimitedAction) -> None:
        network = trusted_client_network(request.scope)
        key = bucket_key((await key_provider.key_ring()).data_keys, action, network)
        now = clock.now()
        window = settings.rate_limit_window_seconds
        window_start = _window_start(now, window)
        async with independent_write(db):
            hits = await repository.count_hit(db, key=key, window_start=window_start)
        if hits > action.limit(settings):
            metrics.count(metrics.TOO_MANY_ATTEMPTS)
            retry_after = (window_start + timedelta(seconds=window) - now).total_seconds()
            raise TooManyAttemptsError(retry_after_seconds=math.ceil(retry_after))

    return count_hit


RateLimiterDep = Annotated[RateLimiter, Depends(_rate_limiter)]


def rate_limited(action: RateLimitedAction) -> params.Depends:
    """The route dependency that counts a hit for `action` and refuses it past the limit."""

    async def count_hit(limit: RateLimiterDep) -> None:
        await limit(action)

    return params.Depends(count_hit)
