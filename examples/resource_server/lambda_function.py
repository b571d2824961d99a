"""The same `whoami` as a Lambda function behind API Gateway's JWT authorizer, the way
template.yaml's WhoAmIFunction (authapi.handlers.whoami) runs, with typed claims.

authapi's own WhoAmIFunction stays standard-library only (its cold start is the runtime's);
this is what a function of yours would do with the SDK installed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from authapi_client.aws_lambda import claims_from_event
from authapi_client.verify import TokenInvalid


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The caller's typed claims, as the JWT authorizer verified them."""
    try:
        claims = claims_from_event(
            event,
            issuer=os.environ.get("AUTHAPI_ISSUER", "authapi"),
            audience=os.environ.get("AUTHAPI_AUDIENCE", "authapi"),
        )
    except TokenInvalid:
        return _answer(401, {"message": "Unauthorized"})
    body = {"sub": claims.sub, "amr": list(claims.amr), "aal": claims.aal, "exp": claims.exp}
    return _answer(200, body)


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body, separators=(",", ":")),
    }
