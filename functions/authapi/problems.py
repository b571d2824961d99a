"""RFC 9457 problem+json: the response class, the body, its OpenAPI schema, and `responses=`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from authapi.exceptions import AuthApiError, InputValidationError
from authapi.observability.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:authapi:problem:"

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


def problem_response(error: AuthApiError, **extra: Any) -> Response:
    return ProblemResponse(
        problem_body(error, **extra), status_code=error.status, headers=error.headers
    )


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
