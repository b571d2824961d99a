"""Access token verification refuses every forged, stale or misused token."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from authapi.auth.tokens import (
    MFA_ENROL_AUDIENCE,
    issue_access_token,
    new_refresh_token,
    verify_access_token,
)
from authapi.config import Settings
from authapi.exceptions import InvalidAccessTokenError, MfaEnrolmentRequiredError
from authapi.key_material import generate_data_key_entry, generate_private_key_pem, load_private_key
from authapi.signing.keys import DataKeys, KeyRing, key_id
from tests.support.tokens import TokenForge

DATA_KEYS = DataKeys.parse(generate_data_key_entry())

pytestmark = pytest.mark.unit

SETTINGS = Settings(_env_file=None)
PRIVATE_PEM = generate_private_key_pem()
RING = KeyRing(signing_key=load_private_key(PRIVATE_PEM), data_keys=DATA_KEYS)
FOREIGN_KEY = load_private_key(generate_private_key_pem())
FORGE = TokenForge(RING.signing_key, SETTINGS)
_claims = FORGE.claims
_sign = FORGE.sign


def test_an_issued_token_verifies() -> None:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    token = issue_access_token(
        RING, SETTINGS, user_id=user_id, session_id=session_id, auth_time=now, now=now
    )

    claims = verify_access_token(RING, SETTINGS, token, now=datetime.now(UTC))

    assert (claims.user_id, claims.session_id) == (user_id, session_id)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": RING.signing_kid, "typ": "at+jwt"}


def test_an_issued_token_has_the_rfc_9068_claims() -> None:
    signed_in = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    now = signed_in + timedelta(hours=5)
    settings = SETTINGS.model_copy(update={"default_client_id": "web-app"})
    token = issue_access_token(
        RING, settings, user_id=uuid.uuid4(), session_id=uuid.uuid4(), auth_time=signed_in, now=now
    )

    claims = jwt.decode(token, options={"verify_signature": False})

    # RFC 9068 section 2.2: iss, exp, aud, sub, client_id, iat, jti; auth_time is when the
    # user signed in, not when this token was issued
    assert {"iss", "exp", "aud", "sub", "client_id", "iat", "jti"} <= set(claims)
    assert claims["client_id"] == "web-app"
    assert claims["auth_time"] == int(signed_in.timestamp())
    assert claims["iat"] == int(now.timestamp())


def test_a_token_without_the_rfc_9068_additions_still_verifies() -> None:
    # tokens issued before client_id and auth_time existed stay valid until they expire
    verify_access_token(
        RING, SETTINGS, _sign(_claims(client_id=None, auth_time=None)), now=datetime.now(UTC)
    )


def test_hand_signed_valid_token_verifies() -> None:
    # guards the fixtures below: each attack differs from this token in one way only
    verify_access_token(RING, SETTINGS, _sign(_claims()), now=datetime.now(UTC))


ATTACKS: dict[str, Callable[[], str]] = {
    "alg none": lambda: FORGE.alg_none(_claims()),
    "HS256 with the public key": lambda: FORGE.hs256_with_public_key(_claims()),
    "flipped payload": lambda: FORGE.with_payload(_sign(_claims()), sub=str(uuid.uuid4())),
    "foreign key": lambda: _sign(_claims(), key=FOREIGN_KEY),
    "foreign key claiming our kid": lambda: _sign(
        _claims(), key=FOREIGN_KEY, headers={"kid": RING.signing_kid}
    ),
    "unknown kid": lambda: _sign(_claims(), headers={"kid": key_id(FOREIGN_KEY.public_key())}),
    "no kid": lambda: jwt.encode(
        _claims(), RING.signing_key, algorithm="RS256", headers={"typ": "at+jwt"}
    ),
    "jku header": lambda: _sign(_claims(), headers={"jku": "https://evil.example/jwks.json"}),
    "x5u header": lambda: _sign(_claims(), headers={"x5u": "https://evil.example/cert.pem"}),
    "jwk header": lambda: _sign(
        _claims(), headers={"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}
    ),
    "expired": lambda: _sign(
        _claims(
            iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200, exp=int(time.time()) - 3600
        )
    ),
    "future nbf": lambda: _sign(_claims(nbf=int(time.time()) + 3600)),
    "missing exp": lambda: _sign(_claims(exp=None)),
    "missing sid": lambda: _sign(_claims(sid=None)),
    "missing token_use": lambda: _sign(_claims(token_use=None)),
    "wrong aud": lambda: _sign(_claims(aud="someone-else")),
    "wrong iss": lambda: _sign(_claims(iss="https://evil.example")),
    "refresh token_use": lambda: _sign(_claims(token_use="refresh")),
    "id token_use": lambda: _sign(_claims(token_use="id")),
    "plain JWT typ": lambda: _sign(_claims(), headers={"typ": "JWT"}),
    "RS512 instead of RS256": lambda: _sign(_claims(), alg="RS512"),
    "sub not a uuid": lambda: _sign(_claims(sub="admin")),
    "opaque refresh token": new_refresh_token,
    "empty": lambda: "",
    "garbage": lambda: "a.b.c",
    # what authapi.auth.jws (which replaced PyJWT's parsing) must refuse as PyJWT did, or more
    "four segments": lambda: _sign(_claims()) + ".e30",
    "padded signature": lambda: _sign(_claims()) + "=",
    "non-base64url character": lambda: _sign(_claims()).replace(".", ".!", 1),
    "header not an object": lambda: _with_header_segment(_sign(_claims()), b"[1]"),
    "header not JSON": lambda: _with_header_segment(_sign(_claims()), b"{"),
    "deeply nested header": lambda: _with_header_segment(
        _sign(_claims()), b"[" * 100_000 + b"]" * 100_000
    ),
    "kid not a string": lambda: _hand_signed({"alg": "RS256", "typ": "at+jwt", "kid": 7}),
    "crit header": lambda: _sign(_claims(), headers={"crit": ["exp"]}),
    "aud list without ours": lambda: _sign(_claims(aud=["someone-else"])),
    "aud not a string": lambda: _sign(_claims(aud=7)),
    "iss not a string": lambda: _hand_signed(claims=_claims(iss=[SETTINGS.jwt_issuer])),
    "sub not a string": lambda: _sign(_claims(sub=7)),
    "jti not a string": lambda: _sign(_claims(jti=7)),
    "null required claim": lambda: jwt.encode(
        {**_claims(), "sid": None},
        RING.signing_key,
        algorithm="RS256",
        headers={"kid": RING.signing_kid, "typ": "at+jwt"},
    ),
}


def _hand_signed(header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None) -> str:
    """Signed with our key, whatever PyJWT would refuse to encode."""
    header = header or {"alg": "RS256", "typ": "at+jwt", "kid": RING.signing_kid}
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        for part in (header, claims or _claims())
    ]
    signing_input = ".".join(segments).encode()
    signature = RING.signing_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return ".".join([*segments, base64.urlsafe_b64encode(signature).rstrip(b"=").decode()])


def test_a_hand_signed_token_verifies() -> None:
    # guards _hand_signed: the attacks built with it differ from this token in one way only
    verify_access_token(RING, SETTINGS, _hand_signed(), now=datetime.now(UTC))


def _with_header_segment(token: str, header: bytes) -> str:
    """The same payload and signature under another header (so the signature no longer fits)."""
    segment = base64.urlsafe_b64encode(header).rstrip(b"=").decode()
    return ".".join([segment, *token.split(".")[1:]])


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_refused(attack: str) -> None:
    token = ATTACKS[attack]()
    with pytest.raises(InvalidAccessTokenError):
        verify_access_token(RING, SETTINGS, token, now=datetime.now(UTC))


def test_an_audience_list_holding_ours_verifies() -> None:
    token = _sign(_claims(aud=["someone-else", SETTINGS.jwt_audience]))

    verify_access_token(RING, SETTINGS, token, now=datetime.now(UTC))


def test_retired_key_still_verifies_its_tokens() -> None:
    old = load_private_key(generate_private_key_pem())
    token = jwt.encode(
        _claims(),
        old,
        algorithm="RS256",
        headers={"kid": key_id(old.public_key()), "typ": "at+jwt"},
    )
    rotated = KeyRing(
        signing_key=RING.signing_key, data_keys=DATA_KEYS, retired_public_keys=(old.public_key(),)
    )

    verify_access_token(rotated, SETTINGS, token, now=datetime.now(UTC))
    with pytest.raises(InvalidAccessTokenError):
        verify_access_token(RING, SETTINGS, token, now=datetime.now(UTC))


def test_refresh_tokens_carry_256_random_bits() -> None:
    tokens = {new_refresh_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert token.startswith("rt_")
        assert len(base64.urlsafe_b64decode(token[3:] + "=")) == 32


def test_a_successor_is_derived_from_its_predecessor_under_each_data_key() -> None:
    from authapi.auth.tokens import new_refresh_token, successor_refresh_tokens
    from authapi.key_material import generate_data_key_entry
    from authapi.signing.keys import DataKeys

    old = generate_data_key_entry()
    keys = DataKeys.parse(f"{generate_data_key_entry()},{old}")
    token = new_refresh_token()

    successors = successor_refresh_tokens(keys, token)

    assert list(successors) == [key_id for key_id, _ in keys.keys]  # the current key first
    # the same predecessor, the same successor: what lets a repeat hand it out again
    assert successors == successor_refresh_tokens(keys, token)
    # a key that is no longer current still derives what it derived before
    old_id = old.split(":")[0]
    assert successors[old_id] == successor_refresh_tokens(DataKeys.parse(old), token)[old_id]
    assert len(set(successors.values())) == 2
    for successor in successors.values():
        assert successor.startswith("rt_")
        assert len(successor) == len(token)
    assert successor_refresh_tokens(keys, new_refresh_token()) != successors


def test_an_enrol_only_token_is_refused_unless_enrolment_asks() -> None:
    now = datetime.now(UTC)
    token = issue_access_token(
        RING,
        SETTINGS,
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        auth_time=now,
        now=now,
        enrol_only=True,
    )
    with pytest.raises(MfaEnrolmentRequiredError) as refused:
        verify_access_token(RING, SETTINGS, token, now=now)
    assert (refused.value.status, refused.value.code) == (403, "mfa_enrolment_required")
    assert verify_access_token(RING, SETTINGS, token, now=now, accept_enrol=True).enrol_only
    # a resource server checking our audience refuses it on its own
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, RING.signing_key.public_key(), ["RS256"], audience=SETTINGS.jwt_audience)


@pytest.mark.parametrize(
    ("token_use", "aud"),
    [("mfa_enrol", SETTINGS.jwt_audience), ("access", MFA_ENROL_AUDIENCE), ("refresh", None)],
)
def test_token_use_and_audience_must_agree(token_use: str, aud: str | None) -> None:
    token = _sign(_claims(token_use=token_use, aud=aud or SETTINGS.jwt_audience))
    with pytest.raises(InvalidAccessTokenError) as refused:
        verify_access_token(RING, SETTINGS, token, now=datetime.now(UTC), accept_enrol=True)
    assert type(refused.value) is InvalidAccessTokenError
