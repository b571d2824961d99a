"""The core auth flows on the schema just before the audit trail's (0011: a deploy under way):
every statement that carries an audit row is refused for the missing table and sent again
without it, so each flow answers as it does on the newest schema, and the sign-in of an MFA
account (0011's tables, which the previous-schema tier's older schema lacks) too."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from tests.support.accounts import STRONG_PASSWORD, register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, sibling_database
from tests.support.http import serving, unique_client_ip
from tests.support.mfa import LOGIN, START, enrolled
from tests.support.oauth import OAUTH_SETTINGS, PUBLIC_CLIENT, REVOKE, TOKEN
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

BEFORE_AUDIT = "0011"
REFRESH = "/api/v1/auth/refresh-token"
LOGOUT = "/api/v1/auth/logout"


def _as_app(database: ScratchDatabase) -> ScratchDatabase:
    url = make_url(database.url).set(username=f"{database.role_prefix}_app")
    return ScratchDatabase(
        url=url.render_as_string(hide_password=False),
        server=None,
        direct_url=database.direct_url,
        role_prefix=database.role_prefix,
    )


async def test_every_audited_flow_works_without_the_audit_tables(
    test_database: ScratchDatabase, signing_key_pem: str
) -> None:
    async with sibling_database(test_database, revision=BEFORE_AUDIT) as previous:
        settings = make_settings(
            _as_app(previous), signing_key_pem, refresh_reuse_interval_seconds=0, **OAUTH_SETTINGS
        )
        clock = ManualClock(START)
        app = create_app(settings, clock=clock)
        async with serving(app, client_ip=unique_client_ip()) as api:
            account = await register(api)
            wrong = {"email": account.email, "password": "not the password"}
            assert (await api.post(LOGIN, json=wrong)).code == "invalid_credentials"
            second = await api.post(LOGIN, json=account.credentials)
            assert second.status == 200
            rotated = await api.post(REFRESH, json={"refresh_token": account.refresh_token})
            assert rotated.status == 200
            reused = await api.post(REFRESH, json={"refresh_token": account.refresh_token})
            assert reused.code == "refresh_token_reused"
            third = await api.post(LOGIN, json=account.credentials)
            bearer = {"Authorization": f"Bearer {third.body['access_token']}"}
            sid = jwt.decode(second.body["access_token"], options={"verify_signature": False})
            ended = await api.request(
                "DELETE", f"/api/v1/auth/sessions/{sid['sid']}", headers=bearer
            )
            assert ended.status == 204
            others = await api.post(LOGOUT, params={"scope": "others"}, headers=bearer)
            assert others.status == 204
            assert (await api.post(LOGOUT, headers=bearer)).status == 204
            assert (await api.get("/api/v1/auth/me", headers=bearer)).status == 401

            grant = {
                "grant_type": "password",
                "username": account.email,
                "password": STRONG_PASSWORD,
                "client_id": PUBLIC_CLIENT,
            }
            signed_in = await api.post(TOKEN, data=grant)
            assert signed_in.status == 200
            revoke = {"token": signed_in.body["refresh_token"], "client_id": PUBLIC_CLIENT}
            assert (await api.post(REVOKE, data=revoke)).status == 200
            refused = {"grant_type": "refresh_token", **revoke}
            assert (await api.post(TOKEN, data=refused)).status == 400

            user = await enrolled(api, clock)
            challenged = await api.post(LOGIN, json=user.account.credentials)
            assert challenged.status == 202
        assert await previous.fetchval("SELECT to_regclass('audit_events')") is None
