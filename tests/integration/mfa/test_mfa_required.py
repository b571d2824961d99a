"""AUTHAPI_MFA_REQUIRED (issue 14): an account without a factor gets enrol-only tokens
(`token_use: mfa_enrol`) that only the enrolment endpoints take; verifying gives real ones, and
no refresh upgrades an enrol-only session."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import jwt
import pytest

from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith
from tests.support.mfa import LOGIN, MFA, START, activate, challenge_of, with_token
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    INTROSPECT,
    OAUTH_SETTINGS,
    PUBLIC_CLIENT,
)

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

V1 = "/api/v1/auth"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    async with client_with(clock=clock, mfa_required=True, **OAUTH_SETTINGS) as client:
        yield client


def _claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refresh(api: ApiClient, refresh_token: str) -> dict[str, object]:
    reply = await api.post(f"{V1}/refresh-token", json={"refresh_token": refresh_token})
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def test_an_enrol_only_token_is_refused_everywhere_but_enrolment(
    api: ApiClient, clock: ManualClock
) -> None:
    account = await register(api)
    enrol_only = _claims(account.access_token)
    # an audience no resource server has: a JWT check elsewhere refuses it too
    assert (enrol_only["token_use"], enrol_only["aud"]) == (
        "mfa_enrol",
        "urn:authapi:mfa-enrolment",
    )
    auth = account.auth
    refused = [
        await api.get(f"{V1}/me", headers=auth),
        await api.get(f"{V1}/sessions", headers=auth),
        await api.post(f"{V1}/logout", headers=auth),
        await api.post(f"{MFA}/step-up", json={"code": "123456"}, headers=auth),
        await api.post(
            f"{V1}/password/change",
            json={"current_password": account.password, "new_password": account.password + "1"},
            headers=auth,
        ),
        await api.post(f"{V1}/me/delete", json={"password": account.password}, headers=auth),
    ]
    for reply in refused:
        assert (reply.status, reply.code) == (403, "mfa_enrolment_required"), reply.body
        assert reply.headers["content-type"].startswith("application/problem+json")
    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
    introspected = await api.post(
        INTROSPECT,
        data={"token": account.access_token},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert (introspected.status, introspected.body) == (200, {"active": False})
    # a refresh (and a repeat of it within the reuse interval) stays enrol-only
    refreshed = await _refresh(api, account.refresh_token)
    repeated = await _refresh(api, account.refresh_token)
    for pair in (refreshed, repeated):
        assert _claims(str(pair["access_token"]))["token_use"] == "mfa_enrol"
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=auth)
    assert enrol.status == 200, enrol.body
    user = await activate(api, clock, account, enrol.body["secret"])
    verify_claims = _claims(str(user.verified["access_token"]))
    assert (verify_claims["token_use"], verify_claims["amr"]) == ("access", ["pwd", "otp"])
    me = await api.get(f"{V1}/me", headers=_bearer(str(user.verified["access_token"])))
    assert (me.status, me.body["mfa"]["enabled"]) == (200, True)
    # the session gave its factor at verify: its refreshes are real tokens from now on
    clock.advance(60)
    upgraded = await _refresh(api, str(refreshed["refresh_token"]))
    claims = _claims(str(upgraded["access_token"]))
    assert (claims["token_use"], claims["acr"]) == ("access", "urn:authapi:aal2")
    # and the account now signs in through a challenge, to real tokens
    clock.advance(60)
    answer = await api.post(
        f"{MFA}/challenge",
        json={"challenge": await challenge_of(api, user), "code": user.code(clock)},
    )
    assert answer.status == 200
    assert _claims(answer.body["access_token"])["token_use"] == "access"


async def test_another_session_enrolling_upgrades_no_enrol_only_session(
    api: ApiClient, clock: ManualClock
) -> None:
    account = await register(api)
    login = await api.post(LOGIN, json=account.credentials)
    assert login.status == 200
    assert _claims(login.body["access_token"])["token_use"] == "mfa_enrol"
    other = _bearer(login.body["access_token"])
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=other)
    await activate(
        api, clock, with_token(account, login.body["access_token"]), enrol.body["secret"]
    )
    # registration's session gave no factor: still enrol-only, though the account has one now
    stale = await _refresh(api, account.refresh_token)
    assert _claims(str(stale["access_token"]))["token_use"] == "mfa_enrol"
    me = await api.get(f"{V1}/me", headers=_bearer(str(stale["access_token"])))
    assert (me.status, me.code) == (403, "mfa_enrolment_required")


async def test_the_password_grant_refuses_an_account_without_a_factor(api: ApiClient) -> None:
    account = await register(api)
    reply = await api.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "password",
            "username": account.email,
            "password": account.password,
            "client_id": PUBLIC_CLIENT,
        },
    )
    assert (reply.status, reply.body["error"]) == (400, "invalid_grant")
    assert reply.body["error_description"] == "mfa_required"


async def test_disabling_mfa_keeps_the_access_token_but_the_next_refresh_is_enrol_only(
    api: ApiClient, clock: ManualClock
) -> None:
    account = await register(api)
    enrol = await api.post(f"{MFA}/totp", json={"password": account.password}, headers=account.auth)
    assert enrol.status == 200, enrol.body
    user = await activate(api, clock, account, enrol.body["secret"])
    full = _bearer(str(user.verified["access_token"]))  # aal2, a second factor given just now
    off = {"password": account.password, "recovery_code": user.recovery_codes[0]}
    disabled = await api.post(f"{MFA}/disable", json=off, headers=full)
    assert disabled.status == 204, disabled.body
    # an access token is not revoked: it stays valid until it expires (README says so)
    me = await api.get(f"{V1}/me", headers=full)
    assert (me.status, me.body["mfa"]["enabled"]) == (200, False)
    # the session's second factor went with the factor: its refresh is enrol-only again
    refreshed = await _refresh(api, account.refresh_token)
    claims = _claims(str(refreshed["access_token"]))
    assert (claims["token_use"], claims["amr"]) == ("mfa_enrol", ["pwd"])
