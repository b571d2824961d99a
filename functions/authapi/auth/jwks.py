"""GET /.well-known/jwks.json: the public keys that verify our access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from authapi.resources import KeyProviderDep

router = APIRouter(tags=["keys"])

# short: a verifier holding an old copy must see a newly published key well before it signs
# (devtools/rotate_signing_key.py waits at least this long between publishing and signing)
JWKS_MAX_AGE_SECONDS = 300


@router.get("/.well-known/jwks.json")
async def jwks(key_provider: KeyProviderDep, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The JSON Web Key Set of the keys that sign access tokens."""
    ring = await key_provider.key_ring()
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return ring.jwks()
