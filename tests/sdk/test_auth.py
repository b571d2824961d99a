"""The auth and sessions resources against the real local cloud, sync and async, and the typed
errors they raise."""

from __future__ import annotations

import uuid

import pytest

import authapi_client as sdk
from authapi_client import AsyncAuthApiClient, AuthApiClient, MemoryTokenStore, SignedIn
from tests.sdk.cloud import REUSE_INTERVAL, TIMEOUT
from tests.support.accounts import STRONG_PASSWORD, unique_email

pytestmark = pytest.mark.integration


def signed_in(client: AuthApiClient, email: str | None = None) -> SignedIn:
    result = client.auth.register(email or unique_email(), STRONG_PASSWORD)
    assert isinstance(result, SignedIn)
    return result


def test_register_login_me_refresh_logout(base_url: str) -> None:
    email = unique_email()
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        registered = signed_in(client, email)
        assert registered.user.email == email
        assert client.tokens == registered.tokens  # kept in the store
        login = client.auth.login(email, STRONG_PASSWORD, device_token=registered.device_token)
        assert isinstance(login, SignedIn)
        assert client.auth.me().id == registered.user.id
        before = client.tokens
        refreshed = client.auth.refresh()
        assert before is not None
        assert refreshed.refresh_token != before.refresh_token
        assert client.auth.me().email == email
        client.auth.logout()
        assert client.tokens is None
        with pytest.raises(sdk.NotSignedInError):
            client.auth.me()


async def test_the_async_client_has_the_same_surface(base_url: str) -> None:
    email = unique_email()
    async with AsyncAuthApiClient(base_url, timeout=TIMEOUT) as client:
        registered = await client.auth.register(email, STRONG_PASSWORD)
        assert isinstance(registered, SignedIn)
        assert (await client.auth.me()).email == email
        (session,) = await client.sessions.list()
        assert session.current
        await client.auth.refresh()
        with pytest.raises(sdk.InvalidCredentials) as wrong:
            await client.auth.login(email, "not the password")
        assert wrong.value.status == 401
        await client.auth.logout(scope="global")
        assert client.tokens is None


def test_sessions_list_and_revoke(base_url: str) -> None:
    email = unique_email()
    with (
        AuthApiClient(base_url, timeout=TIMEOUT) as first,
        AuthApiClient(base_url, timeout=TIMEOUT) as second,
    ):
        signed_in(first, email)
        second.auth.login(email, STRONG_PASSWORD)
        sessions = first.sessions.list()
        assert len(sessions) == 2
        (other,) = [session for session in sessions if not session.current]
        first.sessions.revoke(other.id)
        assert [session.current for session in first.sessions.list()] == [True]
        with pytest.raises(sdk.SessionNotFound) as missing:
            first.sessions.revoke(str(uuid.uuid4()))
        assert isinstance(missing.value, sdk.NotFoundError)
        assert missing.value.request_id
        # the revoked session's refresh token is dead: the second client is signed out
        with pytest.raises(sdk.InvalidRefreshToken):
            second.auth.refresh()
        assert second.tokens is None


def test_logout_of_the_other_sessions_keeps_this_one(base_url: str) -> None:
    email = unique_email()
    with (
        AuthApiClient(base_url, timeout=TIMEOUT) as first,
        AuthApiClient(base_url, timeout=TIMEOUT) as second,
    ):
        signed_in(first, email)
        second.auth.login(email, STRONG_PASSWORD)
        first.auth.logout(scope="others")
        assert first.tokens is not None
        assert first.auth.me().email == email
        with pytest.raises(sdk.AuthenticationError):
            second.auth.me()  # 401 invalid_token, then its refresh is refused too


def test_the_typed_errors_of_registration_and_login(base_url: str) -> None:
    email = unique_email()
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        signed_in(client, email)
        with pytest.raises(sdk.EmailTaken) as taken:
            client.auth.register(email, STRONG_PASSWORD)
        assert (taken.value.status, taken.value.code) == (409, "email_taken")
        assert taken.value.title == "Email already registered"
        with pytest.raises(sdk.WeakPassword) as weak:
            client.auth.register(unique_email(), "password")
        assert isinstance(weak.value, sdk.UnprocessableEntityError)
        with pytest.raises(sdk.ValidationError):
            client.auth.register("not an address", STRONG_PASSWORD)
        with pytest.raises(sdk.InvalidCredentials) as wrong:
            client.auth.login(email, "wrong password")
        assert isinstance(wrong.value, sdk.AuthenticationError)
        assert wrong.value.detail


def test_a_reused_refresh_token_is_refresh_token_reused(base_url: str) -> None:
    """An old refresh token presented after its successor was spent: the session ends."""
    with AuthApiClient(base_url, timeout=TIMEOUT, refresh_reuse_interval=REUSE_INTERVAL) as client:
        original = signed_in(client).tokens
        client.auth.refresh()
        client.auth.refresh()  # the original's successor is spent now: the original is old
        with AuthApiClient(base_url, timeout=TIMEOUT, store=MemoryTokenStore(original)) as stale:
            with pytest.raises(sdk.RefreshTokenReused) as reused:
                stale.auth.refresh()
            assert reused.value.status == 401
            assert stale.tokens is None
        # reuse detection ended the whole session: the live client is signed out too
        with pytest.raises(sdk.AuthenticationError):
            client.auth.refresh()
