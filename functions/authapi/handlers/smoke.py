"""The PreTraffic smoke flow: register -> login -> me -> refresh -> logout -> delete, against the
version CodeDeploy is about to shift traffic to, before any client reaches it.

The migrate hook (authapi.handlers.migrate) runs it after the migrations: CodeDeploy takes one
PreTraffic hook per deployment. Each step is an API Gateway (payload 2.0) event sent to the new
version through Lambda's Invoke, so the code under test is exactly what will serve, behind the
same Mangum adapter, with the same settings and database role. The synthetic account is
`success+<uuid>@simulator.amazonses.com` (SES's simulator accepts and drops the mail, and bounces
never count against the sender) and is deleted through the API; if a step fails, it is deleted
in the database instead, so no run leaves an account behind. Where MFA is required
(AUTHAPI_MFA_REQUIRED, /me refuses the enrol-only tokens) the flow enrols an authenticator
through the API, as a user would, and signs in through the login's challenge.

How the events reach that version: authapi.handlers.smoke_transport. Nothing secret is logged:
steps, statuses and problem codes only.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authapi.clock import SystemClock
from authapi.handlers.smoke_transport import (
    ApiCall,
    SmokeFailed,
    api_event,
    json_body,
    smoke_source_ip,
)
from authapi.mfa.totp import DIGITS, STEP_SECONDS

logger = logging.getLogger(__name__)

# what /me answers an enrol-only token (AUTHAPI_MFA_REQUIRED, before the account has MFA)
ENROLMENT_REQUIRED = "mfa_enrolment_required"


def smoke_email() -> str:
    return f"success+{uuid.uuid4()}@simulator.amazonses.com"


@dataclass
class SmokeFlow:
    """One run of the flow against `call`. `verify_directly` marks the address verified when
    registration did not sign in (AUTHAPI_REQUIRE_VERIFIED_EMAIL: the link goes to the
    simulator); `delete_directly` removes the account when a step failed."""

    call: ApiCall
    host: str
    verify_directly: Callable[[str], None]
    delete_directly: Callable[[str], None]
    source_ip: str = field(default_factory=smoke_source_ip)

    def run(self, email: str | None = None) -> None:
        email = email or smoke_email()
        password = secrets.token_urlsafe(24)  # never logged, never reused
        deleted = False
        try:
            credentials = {"email": email, "password": password}
            registered = self._step("register", "POST", "/api/v1/auth/register", 201, credentials)
            if "access_token" not in registered:
                self.verify_directly(email)  # signed in only once verified
            first = self._step("login", "POST", "/api/v1/auth/login", 200, credentials)
            me, status = self._call("me", "GET", "/api/v1/auth/me", token=first["access_token"])
            if status == 403 and me.get("code") == ENROLMENT_REQUIRED:
                # AUTHAPI_MFA_REQUIRED: the tokens are enrol-only until an authenticator is
                self._with_mfa(email, password, enrolling=first["access_token"])
            else:
                self._signed_in(email, first, me=self._expect("me", status, me, 200))
                # the registration's own session is still live: it deletes the account
                deleting = registered.get("access_token") or self._login(credentials)
                self._delete(password, deleting)
            deleted = True
        finally:
            if not deleted:
                self._clean_up(email)

    def _signed_in(
        self, email: str, tokens: dict[str, Any], *, me: dict[str, Any] | None = None
    ) -> None:
        """me (unless already answered) -> refresh -> logout with a session's tokens."""
        if me is None:
            me = self._step("me", "GET", "/api/v1/auth/me", 200, token=tokens["access_token"])
        if me.get("email") != email:
            raise SmokeFailed("me: answered another account")
        refreshed = self._step(
            "refresh",
            "POST",
            "/api/v1/auth/refresh-token",
            200,
            {"refresh_token": tokens["refresh_token"]},
        )
        self._step("logout", "POST", "/api/v1/auth/logout", 204, token=refreshed["access_token"])

    def _with_mfa(self, email: str, password: str, *, enrolling: str) -> None:
        """Enrol TOTP with the enrol-only token, sign in through the login's challenge, then
        the usual me -> refresh -> logout, and delete with the enrolling session's aal2 token
        (deletion needs a recent second factor: the verification gave it)."""
        enrolment = self._step(
            "mfa enrol",
            "POST",
            "/api/v1/auth/mfa/totp",
            200,
            {"password": password},
            token=enrolling,
        )
        secret = str(enrolment["secret"])
        verified = self._step(
            "mfa verify",
            "POST",
            "/api/v1/auth/mfa/totp/verify",
            200,
            {"code": totp_code(secret, seconds_ahead=0)},
            token=enrolling,
        )
        credentials = {"email": email, "password": password}
        challenged = self._step("mfa login", "POST", "/api/v1/auth/login", 202, credentials)
        # a step is never accepted twice: the next one's code (one step of drift is accepted)
        signed_in = self._step(
            "mfa challenge",
            "POST",
            "/api/v1/auth/mfa/challenge",
            200,
            {
                "challenge": challenged["challenge"],
                "code": totp_code(secret, seconds_ahead=STEP_SECONDS),
            },
        )
        self._signed_in(email, signed_in)
        self._delete(password, str(verified["access_token"]))

    def _delete(self, password: str, access_token: str) -> None:
        self._step(
            "delete",
            "POST",
            "/api/v1/auth/me/delete",
            204,
            {"password": password},
            token=access_token,
        )

    def _login(self, credentials: dict[str, str]) -> str:
        return str(
            self._step("login", "POST", "/api/v1/auth/login", 200, credentials)["access_token"]
        )

    def _clean_up(self, email: str) -> None:
        try:
            self.delete_directly(email)
            logger.warning("smoke account deleted in the database after a failed step")
        except Exception:
            logger.exception("smoke account could not be deleted; its address starts success+")

    def _step(
        self,
        name: str,
        method: str,
        path: str,
        expected: int,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> dict[str, Any]:
        answer, status = self._call(name, method, path, body, token=token)
        return self._expect(name, status, answer, expected)

    def _call(
        self,
        name: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
    ) -> tuple[dict[str, Any], int]:
        event = api_event(
            method, path, host=self.host, source_ip=self.source_ip, body=body, access_token=token
        )
        response = self.call(event)
        return json_body(response), int(response.get("statusCode", 0))

    @staticmethod
    def _expect(name: str, status: int, answer: dict[str, Any], expected: int) -> dict[str, Any]:
        if status != expected:
            raise SmokeFailed(f"{name}: {status} {answer.get('code', '')}, expected {expected}")
        logger.info("smoke step passed", extra={"step": name, "status": status})
        return answer


def totp_code(secret: str, *, seconds_ahead: int) -> str:
    """The authenticator's code `seconds_ahead` from now (pyotp: the layer has it; imported
    here, as the app does, so only MFA-required deploys load it)."""
    import pyotp

    at = SystemClock().now().timestamp() + seconds_ahead
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(at))
