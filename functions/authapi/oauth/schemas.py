"""Response bodies of the OAuth endpoints, and their OpenAPI description (RFC 6749 section 5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from authapi.exceptions import AuthApiError
from authapi.problems import oauth_error
from authapi.request_body import FORM_MEDIA_TYPE


class OAuthTokenOut(BaseModel):
    """RFC 6749 section 5.1. No `scope`: authapi issues no scopes."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class IntrospectionOut(BaseModel):
    """RFC 7662 section 2.2: `active`, and for a live token what it says."""

    model_config = ConfigDict(extra="allow")

    active: bool


OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 6749 section 5.2 error, with authapi's own `code` and `request_id`.",
    "required": ["error", "error_description", "code", "request_id"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "code": {"type": "string", "description": "Stable, snake_case; more precise than error."},
        "request_id": {"type": ["string", "null"]},
    },
}


def oauth_error_responses(*errors: AuthApiError) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for an OAuth route, from examples of what it raises: per status, the
    `error`s and `code`s it carries."""
    by_status: dict[int, list[tuple[str, str]]] = {}
    for error in errors:
        name, status = oauth_error(error)
        by_status.setdefault(status, []).append((name, error.code))
    return {
        status: {
            "description": "; ".join(f"`{name}` (`{code}`)" for name, code in pairs),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/OAuthError"},
                            {
                                "type": "object",
                                "properties": {
                                    "error": {
                                        "type": "string",
                                        "enum": sorted({n for n, _ in pairs}),
                                    },
                                    "code": {
                                        "type": "string",
                                        "enum": sorted({c for _, c in pairs}),
                                    },
                                },
                            },
                        ]
                    }
                }
            },
        }
        for status, pairs in sorted(by_status.items())
    }


def form_body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                FORM_MEDIA_TYPE: {
                    "schema": {"type": "object", "required": required, "properties": properties}
                }
            },
        }
    }
