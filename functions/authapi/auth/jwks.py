"""GET /.well-known/jwks.json: the public keys that verify our access tokens; a tenant's
(`/t/<id>/.well-known/jwks.json`) lists that tenant's keys alone (its key ring)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from authapi.exceptions import TenantNotFoundError
from authapi.problems import problem_responses
from authapi.resources import KeyProviderDep

router = APIRouter(tags=["keys"])

# short: a verifier holding an old copy must see a newly published key well before it signs
# (devtools/rotate_signing_key.py waits at least this long between publishing and signing)
JWKS_MAX_AGE_SECONDS = 300


# documented here, where a tenant's verifier starts: every `/t/<id>/` path may answer it
TENANT_ERRORS = problem_responses(TenantNotFoundError, validates_body=False)


@router.get("/.well-known/jwks.json", responses=TENANT_ERRORS)
async def jwks(key_provider: KeyProviderDep, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The JSON Web Key Set of the keys that sign access tokens."""
    ring = await key_provider.key_ring()
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return ring.jwks()
