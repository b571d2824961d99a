"""GET /.well-known/openid-configuration: where JWT verifiers find our keys.

Only `issuer` and `jwks_uri`: what a JWT verifier (API Gateway's JWT authorizer, most JWT
middleware) reads to check our access tokens. authapi is not an OpenID Provider (no
authorization endpoint, no ID tokens), so this document claims nothing else; the OAuth
endpoints are in the RFC 8414 metadata (authapi/oauth/metadata.py).

Each tenant has its own: `/t/<id>/.well-known/openid-configuration` names the tenant's issuer
(`<issuer>/t/<id>`) and its JWKS (`/t/<id>/.well-known/jwks.json`, the tenant's keys alone), so
a verifier configured with one tenant's issuer trusts that tenant's tokens and no other's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from authapi.auth.jwks import TENANT_ERRORS
from authapi.auth.tokens import tenant_issuer
from authapi.config import Settings
from authapi.resources import SettingsDep

router = APIRouter(tags=["keys"])

JWKS_PATH = "/.well-known/jwks.json"
# The document changes only with a deploy that changes the issuer; the keys it points to rotate
# behind their own, shorter cache (the JWKS's max-age)
DISCOVERY_CACHE_CONTROL = "public, max-age=3600"


def issuer_base_url(issuer: str) -> str | None:
    """The issuer as the base URL its documents live under, if it is an http(s) URL."""
    if issuer.startswith(("https://", "http://")):
        return issuer.rstrip("/")
    return None


def tenant_base_url(settings: Settings, request: Request) -> str:
    """Where the current tenant's documents and endpoints live: under its issuer when that is a
    URL (verifiers fetch them from there); under wherever it was asked otherwise (an issuer that
    is only a name: a first deploy before the API has a URL), the tenant's `/t/<id>` included
    (the tenant path middleware keeps it in the root path)."""
    return issuer_base_url(tenant_issuer(settings)) or str(request.base_url).rstrip("/")


@router.get("/.well-known/openid-configuration", responses=TENANT_ERRORS)
async def openid_configuration(
    settings: SettingsDep, request: Request, response: Response
) -> dict[str, str]:
    """For JWT verifiers: the issuer of our access tokens and the URL of its key set."""
    response.headers["Cache-Control"] = DISCOVERY_CACHE_CONTROL
    return {
        "issuer": tenant_issuer(settings),
        "jwks_uri": tenant_base_url(settings, request) + JWKS_PATH,
    }
