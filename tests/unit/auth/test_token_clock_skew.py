"""Access tokens from a clock a few seconds ahead or behind still verify; minutes do not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from authapi.auth.tokens import CLOCK_SKEW_SECONDS, issue_access_token, verify_access_token
from authapi.config import Settings
from authapi.exceptions import InvalidAccessTokenError
from authapi.key_material import generate_data_key_entry, generate_private_key_pem, load_private_key
from authapi.signing.keys import DataKeys, KeyRing
from tests.support.tokens import TokenForge

pytestmark = pytest.mark.unit

SETTINGS = Settings(_env_file=None)
RING = KeyRing(
    signing_key=load_private_key(generate_private_key_pem()),
    data_keys=DataKeys.parse(generate_data_key_entry()),
)


def _issued(seconds_from_now: float) -> str:
    now = datetime.now(UTC) + timedelta(seconds=seconds_from_now)
    return issue_access_token(
        RING, SETTINGS, user_id=uuid.uuid4(), session_id=uuid.uuid4(), auth_time=now, now=now
    )


def test_a_token_from_a_clock_two_seconds_ahead_verifies() -> None:
    # before: iat and nbf had zero leeway, so this was "not yet valid" for two seconds
    verify_access_token(RING, SETTINGS, _issued(2), now=datetime.now(UTC))


def test_a_token_just_past_its_expiry_still_verifies_within_the_skew() -> None:
    verify_access_token(
        RING, SETTINGS, _issued(-SETTINGS.access_token_ttl_seconds + 0.5 - 2), now=datetime.now(UTC)
    )


@pytest.mark.parametrize("seconds", [CLOCK_SKEW_SECONDS + 60, -3600])
def test_more_than_the_skew_is_refused(seconds: int) -> None:
    with pytest.raises(InvalidAccessTokenError):
        verify_access_token(RING, SETTINGS, _issued(seconds), now=datetime.now(UTC))


def test_the_app_clock_decides_expiry_not_the_wall_clock() -> None:
    # a token of an hour ago is in date at the time it was issued, and out of date an hour on
    token = _issued(-3600)
    issued_at = datetime.now(UTC) - timedelta(seconds=3600)

    verify_access_token(RING, SETTINGS, token, now=issued_at)
    with pytest.raises(InvalidAccessTokenError):
        verify_access_token(RING, SETTINGS, token, now=issued_at + timedelta(hours=1))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_time_that_is_not_a_number_is_refused(claim: str) -> None:
    forge = TokenForge(RING.signing_key, SETTINGS)
    with pytest.raises(InvalidAccessTokenError):
        verify_access_token(
            RING, SETTINGS, forge.sign(forge.claims(**{claim: "later"})), now=datetime.now(UTC)
        )
