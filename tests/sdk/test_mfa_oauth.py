"""The mfa and oauth resources on the real local cloud, and their typed errors."""

from __future__ import annotations

import time

import pyotp
import pytest

import authapi_client as sdk
from authapi_client import AsyncAuthApiClient, AuthApiClient, MfaChallenge, SignedIn
from tests.sdk.cloud import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, TIMEOUT
from tests.support.accounts import STRONG_PASSWORD, unique_email

pytestmark = pytest.mark.integration


def test_mfa_enrol_verify_login_challenge_step_up_regenerate_disable(base_url: str) -> None:
    email = unique_email()
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        client.auth.register(email, STRONG_PASSWORD)
        with pytest.raises(sdk.InvalidCredentials):
            client.mfa.enrol("not it")
        enrolment = client.mfa.enrol(STRONG_PASSWORD)
        assert enrolment.otpauth_uri.startswith("otpauth://totp/")
        assert enrolment.secret not in repr(enrolment)
        totp = pyotp.TOTP(enrolment.secret)
        with pytest.raises(sdk.InvalidMfaCode):
            client.mfa.verify("000000" if totp.now() != "000000" else "111111")
        assert client.auth.me().mfa == sdk.MfaStatus(False, (), 0)
        before = client.tokens
        recovery = client.mfa.verify(totp.now())
        assert len(recovery) == 10
        # verify answers the session's aal2 access token, which the client uses from then on
        assert client.tokens is not None
        assert before is not None
        assert client.tokens.access_token != before.access_token
        status = client.auth.me().mfa
        assert status is not None
        assert (status.enabled, status.recovery_codes_left) == (True, 10)
        assert [factor.type for factor in status.factors] == ["totp"]
        with pytest.raises(sdk.MfaAlreadyEnabled):
            client.mfa.enrol(STRONG_PASSWORD)

        challenge = client.auth.login(email, STRONG_PASSWORD)
        assert isinstance(challenge, MfaChallenge)
        assert challenge.challenge not in repr(challenge)
        with pytest.raises(sdk.InvalidMfaCode):
            client.mfa.challenge(challenge, code="000000" if totp.now() != "000000" else "111111")
        # the next step's code (one step of drift allowed): verify spent this one's
        signed_in = client.mfa.challenge(challenge, code=totp.at(time.time() + 30))
        assert isinstance(signed_in, SignedIn)
        assert client.tokens == signed_in.tokens
        with pytest.raises(sdk.InvalidMfaChallenge):
            client.mfa.challenge(challenge, recovery_code=recovery[0])  # single use

        step_up = client.mfa.step_up(recovery_code=recovery[1])
        assert client.tokens is not None
        assert client.tokens.access_token == step_up.access_token
        assert client.auth.me().email == email
        fresh = client.mfa.regenerate(recovery_code=recovery[2])
        assert len(fresh) == 10
        assert not set(fresh) & set(recovery)
        with pytest.raises(sdk.InvalidMfaCode):
            client.mfa.step_up(recovery_code=recovery[3])  # the old codes stopped working
        client.mfa.disable(STRONG_PASSWORD, recovery_code=fresh[0])
        with pytest.raises(sdk.MfaNotEnrolled):
            client.mfa.step_up(recovery_code=fresh[1])
        assert isinstance(client.auth.login(email, STRONG_PASSWORD), SignedIn)
        with pytest.raises(ValueError, match="exactly one"):
            client.mfa.step_up()


async def test_the_oauth_endpoints_and_their_rfc_6749_errors(base_url: str) -> None:
    email = unique_email()
    async with AsyncAuthApiClient(base_url, timeout=TIMEOUT) as client:
        signed_in = await client.auth.register(email, STRONG_PASSWORD)
        assert isinstance(signed_in, SignedIn)
        original = signed_in.tokens.refresh_token
        token = await client.oauth.token(
            "refresh_token", refresh_token=original, client_id="default"
        )
        assert (token.token_type, token.expires_in > 0) == ("Bearer", True)
        live = await client.oauth.introspect(
            token.access_token, client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET
        )
        assert live.active
        assert live.claims["sub"] == signed_in.user.id

        with pytest.raises(sdk.InvalidClient) as wrong_secret:
            await client.oauth.introspect(
                token.access_token, client_id=CONFIDENTIAL_CLIENT, client_secret="not it"
            )
        assert (wrong_secret.value.status, wrong_secret.value.oauth_error) == (
            401,
            "invalid_client",
        )
        with pytest.raises(sdk.UnsupportedGrantType) as password_grant:
            await client.oauth.token(
                "password", username=email, password=STRONG_PASSWORD, client_id="default"
            )
        assert password_grant.value.oauth_error == "unsupported_grant_type"
        with pytest.raises(sdk.InvalidRefreshToken) as unknown:
            await client.oauth.token("refresh_token", refresh_token="nope", client_id="default")
        assert (unknown.value.status, unknown.value.oauth_error) == (400, "invalid_grant")

        newer = await client.oauth.token(
            "refresh_token", refresh_token=token.refresh_token, client_id="default"
        )
        with pytest.raises(sdk.RefreshTokenReused) as reused:
            await client.oauth.token("refresh_token", refresh_token=original, client_id="default")
        assert reused.value.oauth_error == "invalid_grant"

        await client.oauth.revoke(newer.refresh_token, client_id="default")
        await client.oauth.revoke(newer.refresh_token, client_id="default")  # the same 200
        gone = await client.oauth.introspect(
            newer.access_token, client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET
        )
        assert (gone.active, gone.claims) == (False, {})
