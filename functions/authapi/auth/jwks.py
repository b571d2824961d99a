"""GET /.well-known/jwks.json: the public keys that verify our access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from authapi.resources import KeyProviderDep

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json")
async def jwks(key_provider: KeyProviderDep, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The JSON Web Key Set of the keys that sign access tokens."""
    ring = await key_provider.key_ring()
    # short cache: a rotated key must reach verifiers well before tokens it signs expire
    response.headers["Cache-Control"] = "public, max-age=300"
    return ring.jwks()
