"""From an error answer to the exception it stands for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from authapi_client.errors import AuthApiError, status_base
from authapi_client.errors_generated import CODE_CLASSES, OAUTH_ERRORS


def retry_after_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """`Retry-After` in seconds: delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def error_class(status: int, code: str | None, oauth_error: str | None) -> type[AuthApiError]:
    """The class for `code`; an unknown one by its RFC 6749 `error`, else by its status."""
    if code is not None and code in CODE_CLASSES:
        return CODE_CLASSES[code]
    if oauth_error is not None and oauth_error in OAUTH_ERRORS:
        return OAUTH_ERRORS[oauth_error]
    return status_base(status)


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


def error_from_response(
    status: int, headers: Mapping[str, str], content: bytes, *, now: float
) -> AuthApiError:
    """The exception for an answer of `status`: a problem+json body, an RFC 6749 error body,
    or anything else a proxy in front may send (API Gateway's own `{"message": ...}`)."""
    try:
        parsed: Any = json.loads(content) if content else {}
    except ValueError:
        parsed = {}
    body: Mapping[str, Any] = parsed if isinstance(parsed, dict) else {}
    oauth_error = _text(body, "error")
    code = _text(body, "code") or oauth_error or f"http_{status}"
    detail = (
        _text(body, "detail")
        or _text(body, "error_description")
        or _text(body, "message")
        or f"HTTP {status}"
    )
    title = _text(body, "title") or _text(body, "message") or f"HTTP {status}"
    request_id = _text(body, "request_id") or headers.get("x-request-id")
    error_type = error_class(status, code, oauth_error)
    return error_type(
        status,
        code,
        title,
        detail,
        request_id,
        oauth_error=oauth_error,
        retry_after=retry_after_seconds(headers, now=now),
        headers=headers,
    )
