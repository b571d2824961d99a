"""RFC 8414 authorization server metadata: where OAuth clients find the token, revocation and
introspection endpoints, and what each accepts.

Every member is explicit and true: no authorization endpoint exists, so `response_types_supported`
is empty, and the password grant is listed only when it is enabled. For an issuer with a path
(`https://example.com/tenant`) RFC 8414 section 3.1 inserts the well-known segment before it:
`/.well-known/oauth-authorization-server/tenant`; the document also answers under the issuer
itself, where the OpenID-style lookup (`<issuer>/.well-known/...`) finds it. A tenant's
(`<issuer>/t/<id>`) answers at `/t/<id>/.well-known/oauth-authorization-server` and, path-inserted,
at `/.well-known/oauth-authorization-server/t/<id>` (both routed by authapi.middleware.tenant_path).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response

from authapi.auth.discovery import (
    DISCOVERY_CACHE_CONTROL,
    JWKS_PATH,
    issuer_base_url,
    tenant_base_url,
)
from authapi.auth.tokens import tenant_issuer
from authapi.config import Settings
from authapi.exceptions import NotFoundError
from authapi.oauth.client_auth import AUTH_METHODS
from authapi.problems import problem_responses
from authapi.resources import SettingsDep

router = APIRouter(tags=["keys"])

METADATA_PATH = "/.well-known/oauth-authorization-server"
TOKEN_PATH = "/api/v1/oauth/token"
REVOCATION_PATH = "/api/v1/oauth/revoke"
INTROSPECTION_PATH = "/api/v1/oauth/introspect"


def authorization_server_metadata(settings: Settings, base: str) -> dict[str, Any]:
    grants = ["refresh_token", *(["password"] if settings.oauth_password_grant else [])]
    return {
        "issuer": tenant_issuer(settings),
        "jwks_uri": base + JWKS_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "grant_types_supported": grants,
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint": base + REVOCATION_PATH,
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": base + INTROSPECTION_PATH,
        # RFC 7662: only confidential clients (resource servers) may ask
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": [],  # no authorization endpoint
    }


def _document(settings: Settings, request: Request, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = DISCOVERY_CACHE_CONTROL
    return authorization_server_metadata(settings, tenant_base_url(settings, request))


@router.get(METADATA_PATH)
async def oauth_authorization_server(
    settings: SettingsDep, request: Request, response: Response
) -> dict[str, Any]:
    """RFC 8414 metadata: the OAuth endpoints and what they accept."""
    return _document(settings, request, response)


@router.get(
    METADATA_PATH + "/{issuer_path:path}",
    responses=problem_responses(NotFoundError, validates_body=False),
)
async def oauth_authorization_server_for_path(
    issuer_path: str, settings: SettingsDep, request: Request, response: Response
) -> dict[str, Any]:
    """RFC 8414 metadata, path-inserted form, for an issuer with a path."""
    base = issuer_base_url(tenant_issuer(settings))
    path = urlsplit(base).path.strip("/") if base else ""
    if not path or issuer_path.strip("/") != path:
        raise NotFoundError()
    return _document(settings, request, response)
