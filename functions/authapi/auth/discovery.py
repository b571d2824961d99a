"""GET /.well-known/openid-configuration: where JWT verifiers find our keys.

Only `issuer` and `jwks_uri`: what a JWT verifier (API Gateway's JWT authorizer, most JWT
middleware) reads to check our access tokens. authapi is not an OpenID Provider (no
authorization endpoint, no ID tokens), so this document claims nothing else; the OAuth
endpoints are in the RFC 8414 metadata (authapi/oauth/metadata.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

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


@router.get("/.well-known/openid-configuration")
async def openid_configuration(
    settings: SettingsDep, request: Request, response: Response
) -> dict[str, str]:
    """For JWT verifiers: the issuer of our access tokens and the URL of its key set."""
    # Under a URL issuer the documents live under it (verifiers fetch them from there); an issuer
    # that is only a name (a first deploy before the API has a URL) points at wherever it was asked
    base = issuer_base_url(settings.jwt_issuer) or str(request.base_url).rstrip("/")
    response.headers["Cache-Control"] = DISCOVERY_CACHE_CONTROL
    return {"issuer": settings.jwt_issuer, "jwks_uri": base + JWKS_PATH}
