"""What the API answers, as typed values. Secrets (tokens, challenges, TOTP secrets, recovery
codes) stay out of every `repr`, so that logging a result never logs one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tokens:
    """An access and refresh token pair, when the access token expires (epoch seconds), and
    how long it lived when issued (seconds; None: not known)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    expires_in: float | None = None

    @classmethod
    def from_answer(cls, body: dict[str, Any], *, now: float) -> Tokens:
        return cls(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=now + float(body["expires_in"]),
            expires_in=float(body["expires_in"]),
        )


@dataclass(frozen=True)
class MfaFactor:
    type: str  # "totp"
    created_at: str  # ISO 8601
    last_used_at: str | None


@dataclass(frozen=True)
class MfaStatus:
    """`me()`'s second factors: whether the account has one, and its recovery codes left."""

    enabled: bool
    factors: tuple[MfaFactor, ...]
    recovery_codes_left: int

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> MfaStatus:
        factors = tuple(
            MfaFactor(f["type"], f["created_at"], f.get("last_used_at")) for f in body["factors"]
        )
        return cls(body["enabled"], factors, body["recovery_codes_left"])


@dataclass(frozen=True)
class User:
    id: str
    email: str
    is_active: bool
    created_at: str  # ISO 8601
    email_verified: bool
    mfa: MfaStatus | None = None  # only `me()` answers it

    @classmethod
    def from_answer(cls, body: dict[str, Any]) -> User:
        mfa = body.get("mfa")
        return cls(
            id=body["id"],
            email=body["email"],
            is_active=body["is_active"],
            created_at=body["created_at"],
            email_verified=body.get("email_verified", False),
            mfa=MfaStatus.from_answer(mfa) if isinstance(mfa, dict) else None,
        )


@dataclass(frozen=True)
class SignedIn:
    """A sign-in: the account, its tokens (kept in the client's token store too), and the
    `device_token` to send with later logins from this device."""

    user: User
    tokens: Tokens
    device_token: str = field(repr=False)

    @classmethod
    def from_answer(cls, body: dict[str, Any], *, now: float) -> SignedIn:
        return cls(
            user=User.from_answer(body["user"]),
            tokens=Tokens.from_answer(body, now=now),
            device_token=body["device_token"],
        )


@dataclass(frozen=True)
class Registered:
    """A registration that must verify its address before it signs in (no tokens yet)."""

    user: User
    verification_required: bool = True


@dataclass(frozen=True)
class MfaChallenge:
    """Login's answer for an account with MFA: pass it to `mfa.challenge` with a code."""

    challenge: str = field(repr=False)
    expires_in: int
    factors: tuple[str, ...]


@dataclass(frozen=True)
class Session:
    id: str
    created_at: str
    last_used_at: str | None
    user_agent: str | None
    ip: str | None
    current: bool


@dataclass(frozen=True)
class AuditEvent:
    """One security event of the account (`GET /api/v1/auth/me/events`): `type` such as
    `login.succeeded`; `actor` `{"kind": "user"|"admin"|"service", "id": ...}` (an admin's id is
    not shown to the user); `details` holds non-secret facts of the event."""

    id: str
    type: str
    occurred_at: str
    actor: dict[str, Any]
    user_id: str | None = None
    session_id: str | None = None
    client_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventPage:
    """A page of events, newest first; `next_cursor`: pass it as `cursor` for older ones."""

    events: list[AuditEvent]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Enrolment:
    """A TOTP enrolment, inactive until `mfa.verify` with its first code."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)
    qr_svg: str = field(repr=False)


@dataclass(frozen=True)
class StepUp:
    """A fresh access token carrying a second factor (also kept in the token store)."""

    access_token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True)
class Verified:
    """An activated authenticator: its recovery codes (shown once), and the session's new
    access token carrying the code (aal2), which the client uses from then on."""

    recovery_codes: list[str] = field(repr=False)
    access_token: StepUp


@dataclass(frozen=True)
class OAuthToken:
    """RFC 6749 section 5.1 answer of the token endpoint (not kept in the token store: it
    belongs to the OAuth client that asked)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Introspection:
    """RFC 7662: whether the token is live, and what it says (empty when it is not)."""

    active: bool
    claims: dict[str, Any] = field(default_factory=dict)
