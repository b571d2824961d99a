"""What every endpoint with a body accepts: JSON, labelled as JSON (login also takes its form).

An unlabelled or `text/plain` body is refused with 415 rather than parsed hopefully: text/plain
is what a cross-site HTML form can post without a CORS preflight.
"""

from __future__ import annotations

from fastapi import Request

from authapi.exceptions import UnsupportedMediaTypeError

JSON_MEDIA_TYPE = "application/json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    # the media types FastAPI itself parses as JSON
    return media == JSON_MEDIA_TYPE or (
        media.startswith("application/") and media.endswith("+json")
    )


async def require_json_body(request: Request) -> None:
    """Dependency: a non-empty body must be labelled as JSON."""
    if await request.body() and not is_json(media_type(request)):
        raise UnsupportedMediaTypeError(f"Send the request body as {JSON_MEDIA_TYPE}.")
