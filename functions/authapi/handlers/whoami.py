"""An example resource server: `authapi.handlers.whoami.handler`, behind API Gateway's JWT
authorizer (template.yaml's WhoAmIFunction, GET /api/v1/examples/whoami).

API Gateway has already checked the access token (signature against our JWKS, issuer,
audience, expiry) before this runs; the function only reads what the authorizer verified. It
never sees a logout: a revoked session's access token passes the authorizer until it expires
(README, "Resource servers"). Standard library only, so its cold start is the runtime's own.
"""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The verified claims of the caller's access token, as the JWT authorizer passed them."""
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims")
    if not claims:
        # only reachable if the route lost its authorizer: refuse rather than answer for nobody
        return _answer(401, {"message": "Unauthorized"})
    return _answer(200, {"sub": claims.get("sub"), "claims": claims})


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "content-type": "application/json",
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
        "body": json.dumps(body, separators=(",", ":")),
    }
