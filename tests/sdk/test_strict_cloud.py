"""The typed errors only a stricter deployment answers, on a second local cloud of its own:
verified addresses required (AUTHAPI_REQUIRE_VERIFIED_EMAIL) and MFA required of every account
(AUTHAPI_MFA_REQUIRED). Its own cloud, since both settings would change every other test's
answers on the shared one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest

import authapi_client as sdk
from authapi_client import AuthApiClient, Registered, SignedIn
from tests.sdk.cloud import TIMEOUT, Mailbox, start_cloud
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import DedicatedDatabase
from tests.support.local_cloud import LocalCloud

pytestmark = pytest.mark.integration

STRICT = {"AUTHAPI_REQUIRE_VERIFIED_EMAIL": "true", "AUTHAPI_MFA_REQUIRED": "true"}


@pytest.fixture(scope="module")
def strict_cloud(sdk_database: DedicatedDatabase) -> Iterator[LocalCloud]:
    cloud = start_cloud(sdk_database, settings=STRICT, concurrency=2)
    yield cloud
    cloud.stop()


def test_an_unverified_address_then_an_account_without_a_factor(strict_cloud: LocalCloud) -> None:
    mailbox = Mailbox(strict_cloud.wait_for(r"local mailbox: (http://\S+) ").group(1))
    email = unique_email()
    with AuthApiClient(strict_cloud.base_url, timeout=TIMEOUT) as client:
        assert isinstance(client.auth.register(email, STRONG_PASSWORD), Registered)
        with pytest.raises(sdk.EmailNotVerified) as unverified:
            client.auth.login(email, STRONG_PASSWORD)
        assert (unverified.value.status, unverified.value.code) == (403, "email_not_verified")

        client.email.verify(mailbox.token(email, "/verify-email"))
        assert isinstance(client.auth.login(email, STRONG_PASSWORD), SignedIn)
        # enrol-only tokens: everything but enrolment refuses them
        with pytest.raises(sdk.MfaEnrolmentRequired) as enrol_first:
            client.sessions.list()
        assert (enrol_first.value.status, enrol_first.value.code) == (403, "mfa_enrolment_required")

        totp = pyotp.TOTP(client.mfa.enrol(STRONG_PASSWORD).secret)
        assert len(client.mfa.verify(totp.at(time.time()))) == 10
        # verify's aal2 token, kept by the client: the same call now answers
        assert [session.current for session in client.sessions.list()] == [True]
