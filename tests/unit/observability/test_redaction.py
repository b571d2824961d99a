"""Secrets are masked by key and by shape."""

from __future__ import annotations

import pytest

from authapi.observability.redaction import _TEXT_PATTERNS, REDACTED, redact, redact_text

pytestmark = pytest.mark.unit

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLWJ5dGVz"
REFRESH = "rt_NJSzmlw737lhYuYG5BSDitIgvFW0CpB5sOAan_2u5UA"


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "Authorization",
        "cookie",
        "refresh_token",
        "access_token",
        "client_secret",
    ],
)
def test_secret_keys_are_masked(key: str) -> None:
    assert redact({key: "value-123", "email": "a@example.com"}) == {
        key: REDACTED,
        "email": "a@example.com",
    }


def test_nested_structures_are_walked() -> None:
    data = {"headers": {"authorization": "Bearer abc"}, "items": [{"password": "p"}, "ok"]}
    assert redact(data) == {
        "headers": {"authorization": REDACTED},
        "items": [{"password": REDACTED}, "ok"],
    }


def test_harmless_token_metadata_is_kept() -> None:
    assert redact({"token_type": "bearer", "expires_in": 1800}) == {
        "token_type": "bearer",
        "expires_in": 1800,
    }


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        (f"got token {JWT} from client", JWT),
        (f"refresh with {REFRESH}", REFRESH),
        ("login password=hunter2hunter2 email=a@b", "hunter2hunter2"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
        ("/api?refresh_token=abcdef123456&x=1", "abcdef123456"),
        ("postgresql://app:s3cr3tpass@db:5432/auth", "s3cr3tpass"),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
            "MIIEvQIBADANBg",
        ),
    ],
)
def test_secrets_inside_text_are_masked(text: str, secret: str) -> None:
    masked = redact_text(text)
    assert secret not in masked
    assert REDACTED in masked


def test_plain_text_is_untouched() -> None:
    assert redact_text("user registered: 42 in 3.5 ms") == "user registered: 42 in 3.5 ms"


def _every_pattern(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@pytest.mark.parametrize(
    "text",
    [
        f"authorization: bearer {JWT}",
        "BASIC dXNlcjpwYXNz",
        f"jwt {JWT.upper()[:3]}{JWT[3:]}",
        f"dt_{'A' * 20} and RT_{'b' * 20}",
        "Cookie=session-abc; PASSWD: x1y2z3",
        "SECRET='abc' Access_Token=xyz",
        "REDIS://user:pw@host:6379/0",
        "-----begin rsa private key----- nothing -----END RSA PRIVATE KEY-----",
        "GET /api/auth/me 200 in 3.2 ms from 203.0.113.9",
    ],
)
def test_the_fast_path_never_skips_a_pattern_that_would_match(text: str) -> None:
    # redact_text skips the substitutions when its trigger finds nothing: that may only ever
    # change how fast the answer comes, never the answer
    assert redact_text(text) == _every_pattern(text)
