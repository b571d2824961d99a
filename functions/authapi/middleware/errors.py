"""The last line of defence: anything no handler claimed becomes a problem+json response
(`authapi.middleware.front` catches it and answers `unhandled_problem(error)`).

A database that cannot be reached is a 503 the client can retry; anything else is a 500 that says
nothing about the internals, logged once with its stack trace and counted as `UnhandledError`.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc

from authapi.exceptions import AuthApiError, DatabaseUnavailableError
from authapi.observability import metrics

logger = logging.getLogger(__name__)

# SQLSTATE classes that mean "the database is not there right now", not "your query is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown)
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


def is_database_unavailable(error: BaseException) -> bool:
    """True when `error` says the database cannot be reached, rather than that a query failed."""
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa_exc.InterfaceError):
            return True
        sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
        return (
            isinstance(error, sa_exc.OperationalError)
            or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
        )
    # pool exhausted, connect timeout, refused or reset connections
    return isinstance(
        error, sa_exc.TimeoutError | sa_exc.DisconnectionError | ConnectionError | TimeoutError
    )


def unhandled_problem(error: Exception) -> AuthApiError:
    """What to answer for `error`, logged and counted once."""
    if is_database_unavailable(error):
        logger.warning("database unavailable", extra={"error": type(error).__name__})
        metrics.count(metrics.DATABASE_UNAVAILABLE)
        return DatabaseUnavailableError()
    logger.exception("unhandled error")
    metrics.count(metrics.UNHANDLED_ERROR)
    return AuthApiError()
