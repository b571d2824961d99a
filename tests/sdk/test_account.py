"""The email, password and account resources (the account lifecycle) on the real local cloud,
its mail read from the cloud's own mailbox."""

from __future__ import annotations

import pytest

import authapi_client as sdk
from authapi_client import AuthApiClient, SignedIn
from tests.sdk.cloud import TIMEOUT, Mailbox
from tests.support.accounts import STRONG_PASSWORD, unique_email

pytestmark = pytest.mark.integration

NEW_PASSWORD = STRONG_PASSWORD + " again"


def client_of(base_url: str, email: str) -> AuthApiClient:
    client = AuthApiClient(base_url, timeout=TIMEOUT)
    assert isinstance(client.auth.register(email, STRONG_PASSWORD), SignedIn)
    return client


def test_email_verification_by_link_and_by_code(base_url: str, mailbox: Mailbox) -> None:
    by_link, by_code = unique_email(), unique_email()
    with client_of(base_url, by_link) as first, client_of(base_url, by_code) as second:
        assert not first.auth.me().email_verified
        first.email.verify(mailbox.token(by_link, "/verify-email"))
        assert first.auth.me().email_verified
        second.email.verify(email=by_code, code=mailbox.code(by_code))
        assert second.auth.me().email_verified
        second.email.resend_verification(by_code)  # the same 202 for a verified address
        with pytest.raises(sdk.InvalidAccountToken) as spent:
            first.email.verify("no-such-token")
        assert isinstance(spent.value, sdk.BadRequestError)
        with pytest.raises(ValueError, match="either token"):
            first.email.verify("token", email=by_link, code="123456")


def test_password_forgot_reset_and_change(base_url: str, mailbox: Mailbox) -> None:
    email = unique_email()
    with client_of(base_url, email) as client:
        client.password.forgot(email)
        client.password.reset(mailbox.token(email, "/reset-password"), NEW_PASSWORD)
        with pytest.raises(sdk.InvalidRefreshToken):
            client.auth.me()  # a reset ends every session: this one is signed out
        client.auth.login(email, NEW_PASSWORD)
        with pytest.raises(sdk.WrongPassword) as wrong:
            client.password.change("not it", STRONG_PASSWORD)
        assert isinstance(wrong.value, sdk.ForbiddenError)
        with pytest.raises(sdk.WeakPassword):
            client.password.change(NEW_PASSWORD, "password")
        client.password.change(NEW_PASSWORD, STRONG_PASSWORD)
        assert client.auth.me().email == email  # this session stays
        with pytest.raises(sdk.InvalidAccountToken):
            client.password.reset("no-such-token", NEW_PASSWORD)


def test_email_change_confirmed_and_refused(base_url: str, mailbox: Mailbox) -> None:
    email, new_email, contested = unique_email(), unique_email(), unique_email()
    with client_of(base_url, email) as client:
        with pytest.raises(sdk.SameEmail):
            client.email.change(email, STRONG_PASSWORD)
        with pytest.raises(sdk.WrongPassword):
            client.email.change(new_email, "not it")
        client.email.change(new_email, STRONG_PASSWORD)
        client.email.confirm_change(mailbox.token(new_email, "/confirm-email-change"))
        assert client.auth.me().email == new_email
        # asked for while free, taken before it was confirmed
        client.email.change(contested, STRONG_PASSWORD)
        client_of(base_url, contested).close()
        with pytest.raises(sdk.EmailTaken):
            client.email.confirm_change(mailbox.token(contested, "/confirm-email-change"))


def test_account_deletion(base_url: str) -> None:
    email = unique_email()
    with client_of(base_url, email) as client:
        with pytest.raises(sdk.WrongPassword):
            client.account.delete("not it")
        client.account.delete(STRONG_PASSWORD)
        assert client.tokens is None
        with pytest.raises(sdk.InvalidCredentials):
            client.auth.login(email, STRONG_PASSWORD)


def test_the_accounts_own_security_history(base_url: str) -> None:
    email = unique_email()
    with client_of(base_url, email) as client:
        with pytest.raises(sdk.InvalidCredentials):
            AuthApiClient(base_url, timeout=TIMEOUT).auth.login(email, "wrong " + STRONG_PASSWORD)
        assert isinstance(client.auth.login(email, STRONG_PASSWORD), SignedIn)
        page = client.account.events()
        types = [event.type for event in page.events]
        assert types[:3] == ["login.succeeded", "login.failed", "account.registered"]
        assert page.events[0].details["method"] == "password"
        assert page.events[1].details == {"reason": "wrong_password"}
        failed = client.account.events("login.failed")
        assert [event.type for event in failed.events] == ["login.failed"]
        first = client.account.events(limit=1)
        assert first.next_cursor is not None
        older = client.account.events(limit=1, cursor=first.next_cursor)
        assert older.events[0].id == page.events[1].id
