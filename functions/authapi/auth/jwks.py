"""GET /.well-known/jwks.json: the public keys that verify our access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from authapi.resources import get_resources

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json")
async def jwks(request: Request, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The JSON Web Key Set of the keys that sign access tokens."""
    ring = await get_resources(request).key_provider.key_ring()
    # short cache: a rotated key must reach verifiers well before tokens it signs expire
    response.headers["Cache-Control"] = "public, max-age=300"
    return ring.jwks()
