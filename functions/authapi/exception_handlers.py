"""The one place that turns errors into RFC 9457 problem+json responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from authapi.exceptions import (
    AuthApiError,
    HttpStatusError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RequestValidationFailed,
    UnsupportedMediaTypeError,
)
from authapi.observability.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:authapi:problem:"

# SQLSTATE classes that mean "the database is not there right now", not "your query is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown)
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_body(error: AuthApiError, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_PREFIX + error.code,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "request_id": current_request_id.get(),
        **extra,
    }


def problem_response(error: AuthApiError, **extra: Any) -> Response:
    return ProblemResponse(
        problem_body(error, **extra), status_code=error.status, headers=error.headers
    )


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


async def _auth_api_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, AuthApiError)
    return problem_response(error)


async def _validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # only where and what: never the submitted value, which may be a password
    errors = [
        {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", ""))}
        for item in error.errors()
    ]
    return problem_response(RequestValidationFailed(), errors=errors)


_HTTP_ERRORS: dict[int, type[AuthApiError]] = {
    400: InvalidRequestError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


async def _http_exception(_: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    error_class = _HTTP_ERRORS.get(error.status_code)
    problem = error_class() if error_class else HttpStatusError(error.status_code)
    if error.headers:
        problem.headers.update(error.headers)
    return problem_response(problem)


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthApiError, _auth_api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)


def problem_responses(
    *errors: type[AuthApiError], validates_body: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status with the stable codes it may carry."""
    by_status: dict[int, list[type[AuthApiError]]] = {}
    documented: tuple[type[AuthApiError], ...] = (
        (*errors, RequestValidationFailed) if validates_body else errors
    )
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": "; ".join(f"`{error.code}`: {error.title}" for error in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, group in sorted(by_status.items())
    }
