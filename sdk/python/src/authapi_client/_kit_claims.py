"""The typed claims of an authapi access token (README, "Access tokens", says what each means).

Private to the resource-server kit: `authapi_client.verify` exports `Claims`. A claim of the wrong
type raises `Malformed`, a ValueError, which the verifiers turn into their `TokenInvalid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authapi_client._kit_jws import Malformed


def _time(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"{name} is not a number")
    return int(value)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise Malformed(f"{name} is not a string or a list of strings")


def _optional(claims: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = claims.get(name)
    # exactly the type: a bool is an int to isinstance, and `aal: true` is no assurance level
    if value is not None and type(value) is not kind:
        raise Malformed(f"{name} has the wrong type")
    return value


@dataclass(frozen=True)
class Claims:
    """A verified access token's claims (README, "Access tokens", says what each means)."""

    sub: str  # the user's id
    sid: str  # the session; logging out ends it
    jti: str
    iss: str
    aud: tuple[str, ...]
    exp: int
    iat: int
    nbf: int
    token_use: str
    client_id: str | None = None
    auth_time: int | None = None
    amr: tuple[str, ...] = ()  # how the user authenticated: "pwd", "otp", "recovery_code"
    acr: str | None = None  # "urn:authapi:aal1" or "urn:authapi:aal2"
    aal: int | None = None
    mfa_time: int | None = None
    email: str | None = None  # not issued today; read if a later version adds it
    email_verified: bool | None = None
    scope: tuple[str, ...] = ()  # RFC 9068's space-separated `scope`; none issued today
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def second_factor(self) -> bool:
        """Whether the session proved a second factor (AAL2)."""
        return self.aal == 2

    @classmethod
    def from_payload(cls, claims: Mapping[str, Any]) -> Claims:
        """Typed claims from a payload whose required claims are present; ValueError for a claim
        of the wrong type."""
        for name in ("sub", "sid", "jti", "iss", "token_use"):
            if not isinstance(claims.get(name), str):
                raise Malformed(f"{name} is not a string")
        scope = _optional(claims, "scope", str)
        return cls(
            sub=claims["sub"],
            sid=claims["sid"],
            jti=claims["jti"],
            iss=claims["iss"],
            aud=_strings(claims.get("aud"), "aud"),
            exp=_time(claims, "exp") or 0,
            iat=_time(claims, "iat") or 0,
            nbf=_time(claims, "nbf") or 0,
            token_use=claims["token_use"],
            client_id=_optional(claims, "client_id", str),
            auth_time=_time(claims, "auth_time"),
            amr=_strings(claims.get("amr"), "amr"),
            acr=_optional(claims, "acr", str),
            aal=_optional(claims, "aal", int),
            mfa_time=_time(claims, "mfa_time"),
            email=_optional(claims, "email", str),
            email_verified=_optional(claims, "email_verified", bool),
            scope=tuple(scope.split()) if scope else (),
            raw=dict(claims),
        )
