"""The MFA endpoints (/api/v1/auth/mfa/*) as `Call`s (authapi_client.calls)."""

from __future__ import annotations

from authapi_client.calls import Answer, Call, nothing, signed_in, tokens_of
from authapi_client.models import Enrolment, SignedIn, StepUp, Verified


def _one_factor(code: str | None, recovery_code: str | None) -> dict[str, str]:
    if (code is None) == (recovery_code is None):
        raise ValueError("give exactly one of code and recovery_code")
    return {"code": code} if code is not None else {"recovery_code": recovery_code or ""}


def _recovery_codes(answer: Answer) -> list[str]:
    return list(answer.json()["recovery_codes"])


def enrol(password: str) -> Call[Enrolment]:
    def read(answer: Answer) -> Enrolment:
        body = answer.json()
        return Enrolment(body["secret"], body["otpauth_uri"], body["qr_svg"])

    return Call("POST", "/auth/mfa/totp", read, json={"password": password}, bearer=True)


def verify(code: str) -> Call[Verified]:
    def read(answer: Answer) -> Verified:
        body = answer.json()
        token = StepUp(body["access_token"], body["expires_in"])
        return Verified(list(body["recovery_codes"]), token)

    return Call("POST", "/auth/mfa/totp/verify", read, json={"code": code}, bearer=True)


def challenge(challenge: str, code: str | None, recovery_code: str | None) -> Call[SignedIn]:
    body = {"challenge": challenge, **_one_factor(code, recovery_code)}
    return Call("POST", "/auth/mfa/challenge", signed_in, json=body, keeps=tokens_of)


def step_up(code: str | None, recovery_code: str | None) -> Call[StepUp]:
    def read(answer: Answer) -> StepUp:
        body = answer.json()
        return StepUp(body["access_token"], body["expires_in"])

    body = _one_factor(code, recovery_code)
    return Call("POST", "/auth/mfa/step-up", read, json=body, bearer=True)


def regenerate(code: str | None, recovery_code: str | None) -> Call[list[str]]:
    body = _one_factor(code, recovery_code)
    return Call("POST", "/auth/mfa/recovery-codes", _recovery_codes, json=body, bearer=True)


def disable(password: str, code: str | None, recovery_code: str | None) -> Call[None]:
    body = {"password": password, **_one_factor(code, recovery_code)}
    return Call("POST", "/auth/mfa/disable", nothing, json=body, bearer=True)
