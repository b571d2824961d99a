"""Typed claims in a Lambda function behind API Gateway's JWT authorizer (HTTP API, payload 2.0).

    from authapi_client.aws_lambda import claims_from_event

    def handler(event, context):
        claims = claims_from_event(event, issuer=ISSUER, audience=AUDIENCE)
        ...

API Gateway has checked the signature, `iss`, `aud`, `exp` and `nbf` before the function runs,
and passes the claims in `requestContext.authorizer.jwt.claims` with every value a string:
numbers as "1764849600", booleans as "true", arrays flattened to "[pwd otp]". This parses them
back into the same `Claims` the offline verifier returns, and checks what the authorizer does
not: `token_use` is `access` (it never looks at it), and, if given, `iss` and `aud` once more,
so a function wired to another route or authorizer by mistake refuses rather than trusts.

Like any verification at the gateway it cannot see a logout (README, "Resource servers"). The
event may also be Powertools' `APIGatewayProxyEventV2`, when Powertools is installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from authapi_client._kit_jws import Malformed
from authapi_client.verify import REQUIRED_CLAIMS, Claims, TokenInvalid

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2


def _powertools_event_class() -> type[Any] | None:
    """Powertools' event class if it is installed: optional, only to recognise its events."""
    try:
        from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
    except ImportError:
        return None
    return APIGatewayProxyEventV2


_POWERTOOLS_EVENT = _powertools_event_class()

__all__ = ["claims_from_event", "parse_api_gateway_claims"]

NUMBER_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "mfa_time", "aal"})
BOOLEAN_CLAIMS = frozenset({"email_verified"})
ARRAY_CLAIMS = frozenset({"amr"})  # always an array, even of one: "[pwd]"
MAYBE_ARRAY_CLAIMS = frozenset({"aud"})  # a string or an array of strings (RFC 7519)
_INTEGER = re.compile(r"-?\d{1,19}")
_FLOAT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def _number(name: str, value: str) -> int:
    if _INTEGER.fullmatch(value):
        return int(value)
    # API Gateway may write a large number in exponent form ("1.7648496E9")
    if _FLOAT.fullmatch(value) and float(value).is_integer():
        return int(float(value))
    raise TokenInvalid(f"{name} is not a number")


def _boolean(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise TokenInvalid(f"{name} is not a boolean")
    return lowered == "true"


def _array(value: str) -> list[str]:
    return value[1:-1].split()


def parse_api_gateway_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims as the token carried them, from API Gateway's strings."""
    parsed: dict[str, Any] = {}
    for name, value in claims.items():
        if not isinstance(value, str):  # already typed (a test, or a future payload format)
            parsed[name] = value
        elif name in NUMBER_CLAIMS:
            parsed[name] = _number(name, value)
        elif name in BOOLEAN_CLAIMS:
            parsed[name] = _boolean(name, value)
        elif name in ARRAY_CLAIMS:
            if not (value.startswith("[") and value.endswith("]")):
                raise TokenInvalid(f"{name} is not an array")
            parsed[name] = _array(value)
        elif name in MAYBE_ARRAY_CLAIMS and value.startswith("[") and value.endswith("]"):
            parsed[name] = _array(value)
        else:
            parsed[name] = value
    return parsed


def _authorizer_claims(event: Mapping[str, Any] | APIGatewayProxyEventV2) -> tuple[Any, Any]:
    if _POWERTOOLS_EVENT is not None and isinstance(event, _POWERTOOLS_EVENT):
        authorizer = event.request_context.authorizer
        return authorizer.jwt_claim, authorizer.jwt_scopes
    context = event.get("requestContext") or {}
    jwt = (context.get("authorizer") or {}).get("jwt") or {}
    return jwt.get("claims"), jwt.get("scopes")


def claims_from_event(
    event: Mapping[str, Any] | APIGatewayProxyEventV2,
    *,
    issuer: str | None = None,
    audience: str | None = None,
) -> Claims:
    """The verified claims the JWT authorizer passed; TokenInvalid when there are none (the
    route lost its authorizer), when one is missing or malformed, or when the token is not an
    access token of this issuer and audience."""
    raw, scopes = _authorizer_claims(event)
    if not isinstance(raw, Mapping) or not raw:
        raise TokenInvalid("no JWT authorizer claims in the event")
    claims = parse_api_gateway_claims(raw)
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise TokenInvalid(f"{name} missing")
    if "scope" not in claims and isinstance(scopes, list) and scopes:
        claims["scope"] = " ".join(str(scope) for scope in scopes)
    try:
        typed = Claims.from_payload(claims)
    except Malformed as error:
        raise TokenInvalid(error.reason) from None
    if typed.token_use != "access":
        raise TokenInvalid("not an access token (token_use)")
    if issuer is not None and typed.iss != issuer:
        raise TokenInvalid("issuer")
    if audience is not None and audience not in typed.aud:
        raise TokenInvalid("audience")
    return typed
