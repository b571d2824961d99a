"""RFC 9457 problem+json: the response class, the body, its OpenAPI schema, and `responses=`.

And the one exception (CONVENTIONS.md): under /api/v1/oauth/ every error, whoever raises it (a
route, a middleware, the last-resort handler), is an RFC 6749 section 5.2 body instead, with our
`code` and `request_id` beside `error` and `error_description`: OAuth client libraries parse
those and raise their own typed errors.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import JSONResponse, Response

from authapi.exceptions import (
    AuthApiError,
    EmailNotVerifiedError,
    InputValidationError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    OAuthError,
    RefreshTokenReusedError,
)
from authapi.observability.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:authapi:problem:"
OAUTH_PATH_PREFIX = "/api/v1/oauth/"
# a tenant's copy of them (`/t/<id>/api/v1/oauth/...`) answers as they do
_TENANT_PATH = re.compile(r"^/t/[^/]+(?=/)")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail", "code", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable, snake_case; safe to branch on."},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


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


def problem_response(error: AuthApiError, *, path: str | None = None, **extra: Any) -> Response:
    """The error as problem+json, or as RFC 6749's error body for a request under /api/v1/oauth/."""
    if path is not None and _TENANT_PATH.sub("", path, count=1).startswith(OAUTH_PATH_PREFIX):
        return oauth_error_response(error)
    return ProblemResponse(
        problem_body(error, **extra), status_code=error.status, headers=error.headers
    )


# Our errors that mean a bad grant to an OAuth client (their 401s would read as invalid_client;
# an unverified address's 403 is a grant the client cannot use until the user verifies it)
_GRANT_ERRORS = (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    EmailNotVerifiedError,
)


def oauth_error(error: AuthApiError) -> tuple[str, int]:
    """RFC 6749 section 5.2's `error` for any of our errors, and the status to answer it with."""
    if error.status in (429, 503):
        return "temporarily_unavailable", error.status  # with its Retry-After
    if error.status >= 500:
        return "server_error", error.status
    if isinstance(error, OAuthError):
        return error.error, error.status
    if isinstance(error, _GRANT_ERRORS):
        return "invalid_grant", 400
    if error.status in (404, 405):
        return "invalid_request", error.status  # no such endpoint: not a 400 of an endpoint's
    return "invalid_request", 400  # unreadable, mislabelled, oversized, cross-site, no address


def oauth_error_body(error: AuthApiError) -> dict[str, Any]:
    return {
        "error": oauth_error(error)[0],
        "error_description": error.detail,
        "code": error.code,
        "request_id": current_request_id.get(),
    }


def oauth_error_response(error: AuthApiError) -> Response:
    status = oauth_error(error)[1]
    # a Bearer challenge of a 401 we answer as 400 would send the client after a token
    headers = {
        name: value
        for name, value in error.headers.items()
        if name.lower() != "www-authenticate" or status == 401
    }
    headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
    return JSONResponse(oauth_error_body(error), status_code=status, headers=headers)


def problem_responses(
    *errors: type[AuthApiError], validates_body: bool = True
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status with the stable codes it may carry."""
    by_status: dict[int, list[type[AuthApiError]]] = {}
    documented: tuple[type[AuthApiError], ...] = (
        (*errors, InputValidationError) if validates_body else errors
    )
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    return {
        status: {
            "description": "; ".join(f"`{error.code}`: {error.title}" for error in group),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": _problem_schema(group)}},
        }
        for status, group in sorted(by_status.items())
    }


def _problem_schema(errors: list[type[AuthApiError]]) -> dict[str, Any]:
    """The Problem schema, its `code` narrowed to an enum of what this response can carry: the
    machine-readable list clients and SDKs generate their error types from."""
    codes = sorted({error.code for error in errors})
    return {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {
                "type": "object",
                "required": ["code"],
                "properties": {"code": {"type": "string", "enum": codes}},
            },
        ]
    }
