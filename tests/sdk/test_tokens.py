"""The token stores, the base URL's path prefix and default timeouts, and what the SDK never
logs."""

from __future__ import annotations

import logging
import stat
import tomllib
from pathlib import Path

import httpx
import pytest

import authapi_client as sdk
from authapi_client import AuthApiClient, FileTokenStore, MemoryTokenStore, SignedIn, Tokens
from tests.sdk.cloud import TIMEOUT, CountingTransport, refused
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.local_cloud import REPO

TOKENS = Tokens("header.payload.signature", "refresh-secret", 2e9)


@pytest.mark.unit
def test_the_file_store_is_0600_replaced_whole_and_survives_damage(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "tokens.json"
    store = FileTokenStore(path)
    assert store.load() is None
    store.save(TOKENS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == TOKENS
    newer = Tokens("a.b.c", "refresh-2", 2e9 + 1)
    store.save(newer)
    assert FileTokenStore(path).load() == newer  # another process reads what was saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokens.json"]  # no temp left
    with store.lock():
        assert stat.S_IMODE(store.lock_path.stat().st_mode) == 0o600
    path.write_text("{half a fi")
    assert store.load() is None
    store.clear()
    store.clear()
    assert not path.exists()
    assert isinstance(store, sdk.TokenStore)
    assert isinstance(MemoryTokenStore(), sdk.TokenStore)


@pytest.mark.unit
@pytest.mark.parametrize(
    "content",
    [
        "[]",
        "{}",
        "null",
        '"tokens"',
        '{"access_token": "a.b.c", "refresh_token": "r"}',
        '{"access_token": 1, "refresh_token": "r", "expires_at": 2e9}',
        '{"access_token": "a.b.c", "refresh_token": "r", "expires_at": "soon"}',
        '{"access_token": "a.b.c", "refresh_token": "r", "expires_at": null}',
    ],
)
def test_the_file_store_reads_json_that_is_no_tokens_as_signed_out(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    assert FileTokenStore(path).load() is None


@pytest.mark.unit
def test_the_file_store_reads_a_file_an_older_client_wrote(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"access_token": "a.b.c", "refresh_token": "r", "expires_at": 2e9}')
    assert FileTokenStore(path).load() == Tokens("a.b.c", "r", 2e9)


@pytest.mark.unit
def test_the_base_url_keeps_its_path_prefix_and_requests_have_timeouts() -> None:
    seen: list[httpx.Request] = []
    user = {"id": "u", "email": "e", "is_active": True, "created_at": "t", "email_verified": True}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=user)

    with AuthApiClient(
        "https://auth.example.com/t/acme",
        store=MemoryTokenStore(TOKENS),
        transport=httpx.MockTransport(answer),
    ) as client:
        client.auth.me()
    (request,) = seen
    assert str(request.url) == "https://auth.example.com/t/acme/api/v1/auth/me"
    assert request.headers["authorization"] == f"Bearer {TOKENS.access_token}"
    assert request.headers["user-agent"] == f"authapi-client/{sdk.__version__}"
    assert request.extensions["timeout"] == {
        "connect": 5.0,
        "read": 10.0,
        "write": 10.0,
        "pool": 10.0,
    }


@pytest.mark.unit
def test_the_version_is_the_packages() -> None:
    project = tomllib.loads((REPO / "sdk/python/pyproject.toml").read_text())["project"]
    assert project["version"] == sdk.__version__
    assert project["name"] == "authapi-client"


@pytest.mark.unit
def test_results_and_errors_show_no_secret() -> None:
    user = sdk.User("u", "e", True, "t", False)
    signed_in = SignedIn(user, TOKENS, device_token="device-secret")
    shown = repr(signed_in) + repr(sdk.StepUp("step-secret", 60)) + repr(TOKENS)
    for secret in ("header.payload", "refresh-secret", "device-secret", "step-secret"):
        assert secret not in shown


@pytest.mark.integration
def test_no_token_or_password_reaches_a_log_line(
    base_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Every logger at DEBUG (the SDK's, httpx's, httpcore's) through a whole session: sign-up,
    login, a refused token refreshed, a lost refresh answer retried, logout."""
    email = unique_email()
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [STRONG_PASSWORD]
    transport = CountingTransport(lose={"/api/v1/auth/refresh-token"})
    store = FileTokenStore(tmp_path / "tokens.json")
    with AuthApiClient(base_url, timeout=TIMEOUT, store=store, transport=transport) as client:
        registered = client.auth.register(email, STRONG_PASSWORD)
        assert isinstance(registered, SignedIn)
        login = client.auth.login(email, STRONG_PASSWORD, device_token=registered.device_token)
        assert isinstance(login, SignedIn)
        secrets += [registered.device_token, login.device_token]
        secrets += [t.access_token for t in (registered.tokens, login.tokens)]
        secrets += [t.refresh_token for t in (registered.tokens, login.tokens)]
        store.save(refused(login.tokens))
        client.auth.me()
        fresh = client.tokens
        assert fresh is not None
        secrets += [fresh.access_token, fresh.refresh_token]
        with pytest.raises(sdk.InvalidCredentials):
            client.auth.login(email, STRONG_PASSWORD + "x")
        client.auth.logout()
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.__dict__!r}" for record in caplog.records
    )
    assert "refresh-token: connection lost" in logged  # the logs did see the flow
    for secret in secrets:
        assert secret not in logged
        # a JWT's parts are secrets too (its signature proves nothing alone, but its payload
        # names the account and session)
        for part in secret.split(".") if secret.count(".") == 2 else ():
            assert part not in logged
