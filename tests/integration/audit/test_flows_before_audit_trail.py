"""The lifecycle and MFA flows on the schema just before the audit trail's migration (0011: a
deploy under way): each audited statement is refused at parse there and sent again without its
audit rows, so every flow still works, once each, as the app's own database role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pyotp
import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.config import Settings
from authapi.signing.keys import DataKeys
from authapi.users import account_tokens
from tests.support.accounts import register, unique_email
from tests.support.audit_flows import mint_token
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, sibling_database
from tests.support.http import ApiClient, serving, unique_client_ip
from tests.support.mfa import MFA, START, challenge_of, enrolled
from tests.support.settings import ONE_CONNECTION, SESSION_DATA_KEYS, make_settings

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

BEFORE_AUDIT = "0011"
V1 = "/api/v1/auth"
NEW_PASSWORD = "a brand new passphrase 42"
DATA_KEYS = DataKeys.parse(SESSION_DATA_KEYS)


@pytest.fixture
async def before_audit(
    test_database: ScratchDatabase, signing_key_pem: str
) -> AsyncIterator[Settings]:
    async with sibling_database(test_database, revision=BEFORE_AUDIT) as previous:
        url = make_url(previous.url).set(username=f"{previous.role_prefix}_app")
        as_app = ScratchDatabase(
            url=url.render_as_string(hide_password=False),
            server=None,
            direct_url=previous.direct_url,
            role_prefix=previous.role_prefix,
        )
        yield make_settings(as_app, signing_key_pem, **ONE_CONNECTION)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api(before_audit: Settings, clock: ManualClock) -> AsyncIterator[ApiClient]:
    app = create_app(before_audit, clock=clock)
    async with serving(app, client_ip=unique_client_ip()) as client:
        yield client


async def test_the_lifecycle_flows_work_without_the_audit_tables(
    api: ApiClient, before_audit: Settings, clock: ManualClock
) -> None:
    account = await register(api)
    change = {"current_password": account.password, "new_password": NEW_PASSWORD}
    changed = await api.post(f"{V1}/password/change", json=change, headers=account.auth)
    assert changed.status == 204, changed.body
    forgot = await api.post(f"{V1}/password/forgot", json={"email": account.email})
    assert forgot.status == 202, forgot.body
    reset = await mint_token(
        before_audit,
        DATA_KEYS,
        account_id=account.user_id,
        email=account.email,
        purpose=account_tokens.PASSWORD_RESET,
        now=clock.now(),
    )
    body = {"token": reset.token, "new_password": account.password}
    assert (await api.post(f"{V1}/password/reset", json=body)).status == 204
    link = await mint_token(
        before_audit,
        DATA_KEYS,
        account_id=account.user_id,
        email=account.email,
        purpose=account_tokens.EMAIL_VERIFICATION,
        now=clock.now(),
    )
    assert (await api.post(f"{V1}/email/verify", json={"token": link.token})).status == 204
    bearer = (await api.post(f"{V1}/login", json=account.credentials)).body["access_token"]
    auth = {"Authorization": f"Bearer {bearer}"}
    new_email = unique_email()
    ask = {"new_email": new_email, "password": account.password}
    assert (await api.post(f"{V1}/email/change", json=ask, headers=auth)).status == 202
    confirmation = await mint_token(
        before_audit,
        DATA_KEYS,
        account_id=account.user_id,
        email=account.email,
        purpose=account_tokens.EMAIL_CHANGE,
        now=clock.now(),
        new_email=new_email,
    )
    confirm = {"token": confirmation.token}
    assert (await api.post(f"{V1}/email/change/confirm", json=confirm)).status == 204
    gone = await api.post(f"{V1}/me/delete", json={"password": account.password}, headers=auth)
    assert gone.status == 204, gone.body


async def test_the_mfa_flows_work_without_the_audit_tables(
    api: ApiClient, clock: ManualClock
) -> None:
    user = await enrolled(api, clock)  # enrol and verify
    wrong = "000000" if user.code(clock) != "000000" else "111111"
    challenge = await challenge_of(api, user)
    for factor in ({"code": wrong}, {"recovery_code": "aaaa-bbbb-cccc-dddd"}):
        refused = await api.post(f"{MFA}/challenge", json={"challenge": challenge, **factor})
        assert refused.code == "invalid_mfa_code"
    answer = {"challenge": challenge, "recovery_code": user.recovery_codes[0]}
    signed_in = await api.post(f"{MFA}/challenge", json=answer)
    assert signed_in.status == 200, signed_in.body
    auth = user.account.auth
    assert (await api.post(f"{MFA}/step-up", json={"code": wrong}, headers=auth)).status == 401
    stepped = await api.post(f"{MFA}/step-up", json={"code": user.code(clock)}, headers=auth)
    assert stepped.status == 200, stepped.body
    fresh = {"Authorization": f"Bearer {stepped.body['access_token']}"}
    clock.advance(30)
    code = str(pyotp.TOTP(user.secret).at(clock.now().timestamp()))
    regenerated = await api.post(f"{MFA}/recovery-codes", json={"code": code}, headers=fresh)
    assert regenerated.status == 200, regenerated.body
    off = {
        "password": user.account.password,
        "recovery_code": regenerated.body["recovery_codes"][0],
    }
    assert (await api.post(f"{MFA}/disable", json=off, headers=fresh)).status == 204
