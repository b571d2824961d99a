"""Every endpoint the SDK calls, as a `Call`: what to send, how to read the answer, what it does
to the token store. The sync and async resources both send these, so they cannot drift apart.
Here /api/v1/auth (sign-in, sessions, the account lifecycle); MFA in `mfa_calls`, OAuth in
`oauth_calls`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx

from authapi_client.models import (
    AuditEvent,
    EventPage,
    MfaChallenge,
    Registered,
    Session,
    SignedIn,
    Tokens,
    User,
)
from authapi_client.retry import IDEMPOTENT_METHODS

T = TypeVar("T")
API = "/api/v1"
LogoutScope = Literal["local", "others", "global"]


@dataclass(frozen=True)
class Answer:
    """A successful answer, with the time it arrived (token expiries count from it)."""

    response: httpx.Response
    received_at: float

    def json(self) -> Any:
        return self.response.json()


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str  # under /api/v1
    read: Callable[[Answer], T]
    json: Any = None
    form: Mapping[str, str] | None = None
    bearer: bool = False  # sends the stored access token (refreshed as needed)
    client_auth: tuple[str, str] | None = None  # OAuth client id and secret (HTTP Basic)
    idempotent: bool | None = None  # None: by the method (RFC 9110 section 9.2.2)
    keeps: Callable[[T], Tokens | None] | None = None  # tokens to save in the store
    signs_out: bool = False  # clears the store once it succeeded
    params: Mapping[str, str | list[str]] | None = None  # a list: the key repeated

    @property
    def retried(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.method in IDEMPOTENT_METHODS


def nothing(_: Answer) -> None:
    return None


def signed_in(answer: Answer) -> SignedIn:
    return SignedIn.from_answer(answer.json(), now=answer.received_at)


def _signed_in_or_challenge(answer: Answer) -> SignedIn | MfaChallenge:
    body = answer.json()
    if answer.response.status_code == 202:
        return MfaChallenge(body["challenge"], body["expires_in"], tuple(body.get("factors", ())))
    return signed_in(answer)


def _signed_in_or_registered(answer: Answer) -> SignedIn | Registered:
    body = answer.json()
    if "access_token" not in body:
        return Registered(User.from_answer(body["user"]))
    return signed_in(answer)


def tokens_of(result: object) -> Tokens | None:
    return result.tokens if isinstance(result, SignedIn) else None


def register(email: str, password: str) -> Call[SignedIn | Registered]:
    body = {"email": email, "password": password}
    return Call("POST", "/auth/register", _signed_in_or_registered, json=body, keeps=tokens_of)


def login(email: str, password: str, device_token: str | None) -> Call[SignedIn | MfaChallenge]:
    body = {"email": email, "password": password}
    if device_token is not None:
        body["device_token"] = device_token
    return Call("POST", "/auth/login", _signed_in_or_challenge, json=body, keeps=tokens_of)


def refresh(refresh_token: str) -> Call[Tokens]:
    def read(answer: Answer) -> Tokens:
        return Tokens.from_answer(answer.json(), now=answer.received_at)

    body = {"refresh_token": refresh_token}
    return Call("POST", "/auth/refresh-token", read, json=body, keeps=lambda tokens: tokens)


def logout(scope: LogoutScope) -> Call[None]:
    # `others` keeps this session: its tokens stay
    return Call(
        "POST",
        "/auth/logout",
        nothing,
        params={"scope": scope},
        bearer=True,
        signs_out=scope != "others",
    )


def me() -> Call[User]:
    return Call("GET", "/auth/me", lambda answer: User.from_answer(answer.json()), bearer=True)


def list_sessions() -> Call[list[Session]]:
    def read(answer: Answer) -> list[Session]:
        return [Session(**session) for session in answer.json()["sessions"]]

    return Call("GET", "/auth/sessions", read, bearer=True)


def my_events(
    types: tuple[str, ...],
    since: str | None,
    until: str | None,
    cursor: str | None,
    limit: int | None,
) -> Call[EventPage]:
    def read(answer: Answer) -> EventPage:
        body = answer.json()
        known = set(AuditEvent.__dataclass_fields__)
        events = [AuditEvent(**{k: v for k, v in e.items() if k in known}) for e in body["events"]]
        return EventPage(events, body.get("next_cursor"))

    # httpx repeats a key given a list: `type=a&type=b`
    params: dict[str, str | list[str]] = {"type": list(types)} if types else {}
    for name, value in (("since", since), ("until", until), ("cursor", cursor), ("limit", limit)):
        if value is not None:
            params[name] = str(value)
    return Call("GET", "/auth/me/events", read, bearer=True, params=params)


def revoke_session(session_id: str) -> Call[None]:
    return Call("DELETE", f"/auth/sessions/{session_id}", nothing, bearer=True)


def verify_email(token: str | None, email: str | None, code: str | None) -> Call[None]:
    if (token is None) == (email is None or code is None):
        raise ValueError("give either token, or email and code")
    body = {"token": token} if token is not None else {"email": email, "code": code}
    return Call("POST", "/auth/email/verify", nothing, json=body)


def resend_verification(email: str) -> Call[None]:
    return Call("POST", "/auth/email/verify/resend", nothing, json={"email": email})


def change_email(new_email: str, password: str) -> Call[None]:
    body = {"new_email": new_email, "password": password}
    return Call("POST", "/auth/email/change", nothing, json=body, bearer=True)


def confirm_email_change(token: str) -> Call[None]:
    return Call("POST", "/auth/email/change/confirm", nothing, json={"token": token})


def forgot_password(email: str) -> Call[None]:
    return Call("POST", "/auth/password/forgot", nothing, json={"email": email})


def reset_password(token: str, new_password: str) -> Call[None]:
    body = {"token": token, "new_password": new_password}
    return Call("POST", "/auth/password/reset", nothing, json=body)


def change_password(current_password: str, new_password: str) -> Call[None]:
    body = {"current_password": current_password, "new_password": new_password}
    return Call("POST", "/auth/password/change", nothing, json=body, bearer=True)


def delete_account(password: str) -> Call[None]:
    body = {"password": password}
    return Call("POST", "/auth/me/delete", nothing, json=body, bearer=True, signs_out=True)
