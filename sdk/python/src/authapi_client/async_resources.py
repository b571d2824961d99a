"""The async client's resources: the sync ones' names, arguments and answers (resources.py),
awaited: `await client.auth.login(...)`, `await client.sessions.list()`."""

from __future__ import annotations

from typing import TypeVar

from authapi_client import calls, mfa_calls, oauth_calls
from authapi_client.async_transport import AsyncTransport
from authapi_client.calls import Call, LogoutScope
from authapi_client.models import (
    Enrolment,
    EventPage,
    Introspection,
    MfaChallenge,
    OAuthToken,
    Registered,
    Session,
    SignedIn,
    StepUp,
    Tokens,
    User,
)

T = TypeVar("T")


class Resource:
    """One area of the API: the client's transport (base URL with any path prefix, retries,
    tokens) and the error mapping come with it."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._transport = transport

    async def _send(self, call: Call[T]) -> T:
        return await self._transport.send(call)


class Auth(Resource):
    async def register(self, email: str, password: str) -> SignedIn | Registered:
        """Create an account; signed in at once unless the service requires a verified email."""
        return await self._send(calls.register(email, password))

    async def login(
        self, email: str, password: str, *, device_token: str | None = None
    ) -> SignedIn | MfaChallenge:
        """Sign in. An account with MFA answers an `MfaChallenge`: finish with `mfa.challenge`."""
        return await self._send(calls.login(email, password, device_token))

    async def refresh(self) -> Tokens:
        """Refresh now (calls refresh by themselves when needed: this is rarely required)."""
        transport = self._transport
        return await transport.refresh(stale=transport.settings.tokens().access_token)

    async def logout(self, scope: LogoutScope = "local") -> None:
        """End this session (`others`: every other one; `global`: all of them)."""
        await self._send(calls.logout(scope))

    async def me(self) -> User:
        return await self._send(calls.me())


class Sessions(Resource):
    async def list(self) -> list[Session]:
        """The account's live sessions, newest first; `current` marks this one."""
        return await self._send(calls.list_sessions())

    async def revoke(self, session_id: str) -> None:
        return await self._send(calls.revoke_session(session_id))


class Email(Resource):
    async def verify(
        self, token: str | None = None, *, email: str | None = None, code: str | None = None
    ) -> None:
        """Confirm the address with the link's token, or with the address and its code."""
        return await self._send(calls.verify_email(token, email, code))

    async def resend_verification(self, email: str) -> None:
        return await self._send(calls.resend_verification(email))

    async def change(self, new_email: str, password: str) -> None:
        """Ask to change the address: a confirmation goes to the new one."""
        return await self._send(calls.change_email(new_email, password))

    async def confirm_change(self, token: str) -> None:
        return await self._send(calls.confirm_email_change(token))


class Password(Resource):
    async def forgot(self, email: str) -> None:
        return await self._send(calls.forgot_password(email))

    async def reset(self, token: str, new_password: str) -> None:
        return await self._send(calls.reset_password(token, new_password))

    async def change(self, current_password: str, new_password: str) -> None:
        return await self._send(calls.change_password(current_password, new_password))


class Account(Resource):
    async def delete(self, password: str) -> None:
        """Delete the account for good; the store is cleared."""
        return await self._send(calls.delete_account(password))

    async def events(
        self,
        *types: str,
        since: str | None = None,
        until: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> EventPage:
        """The account's own security history, newest first (sign-ins, failures, password and
        MFA changes, admin actions...): `types` filters on event types, e.g. "login.failed"."""
        return await self._send(calls.my_events(types, since, until, cursor, limit))


class Mfa(Resource):
    async def enrol(self, password: str) -> Enrolment:
        return await self._send(mfa_calls.enrol(password))

    async def verify(self, code: str) -> list[str]:
        """Activate the enrolled authenticator; answers the recovery codes (shown once). The
        session's new access token, which carries the code (aal2), is used from now on."""
        verified = await self._send(mfa_calls.verify(code))
        await self._transport.keep_access_token(verified.access_token)
        return verified.recovery_codes

    async def challenge(
        self,
        challenge: MfaChallenge | str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
    ) -> SignedIn:
        """Finish an MFA login with a code (or a recovery code)."""
        token = challenge.challenge if isinstance(challenge, MfaChallenge) else challenge
        return await self._send(mfa_calls.challenge(token, code, recovery_code))

    async def step_up(self, *, code: str | None = None, recovery_code: str | None = None) -> StepUp:
        """A fresh access token carrying a second factor; the client uses it from now on."""
        result = await self._send(mfa_calls.step_up(code, recovery_code))
        await self._transport.keep_access_token(result)
        return result

    async def regenerate(
        self, *, code: str | None = None, recovery_code: str | None = None
    ) -> list[str]:
        return await self._send(mfa_calls.regenerate(code, recovery_code))

    async def disable(
        self, password: str, *, code: str | None = None, recovery_code: str | None = None
    ) -> None:
        return await self._send(mfa_calls.disable(password, code, recovery_code))


class OAuth(Resource):
    """The RFC 6749 token endpoint, RFC 7009 revocation, RFC 7662 introspection: for OAuth
    clients, with their own client id; tokens here do not touch the client's store."""

    async def token(
        self,
        grant_type: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        **parameters: str,
    ) -> OAuthToken:
        form = {"grant_type": grant_type, **parameters}
        return await self._send(oauth_calls.token(form, client_id, client_secret))

    async def revoke(
        self,
        token: str,
        *,
        token_type_hint: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        return await self._send(
            oauth_calls.revoke(token, token_type_hint, client_id, client_secret)
        )

    async def introspect(
        self,
        token: str,
        *,
        client_id: str,
        client_secret: str,
        token_type_hint: str | None = None,
    ) -> Introspection:
        return await self._send(
            oauth_calls.introspect(token, token_type_hint, client_id, client_secret)
        )
