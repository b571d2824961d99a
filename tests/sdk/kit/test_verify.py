"""The kit's verifier accepts what authapi issues and refuses the forged tokens the service's
own attack tests use (tests/integration/attacks/test_access_tokens.py, tests/support/tokens.py).

Every forged token names a real account's live session and is signed with the service's real
key unless the attack is the signature itself; the control case proves the same forge, with no
defect, gets in, so each refusal is for the one defect under test.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from authapi.signing.keys import key_id, public_jwk
from authapi_client.verify import Claims, JwksUnavailable, TokenExpired, TokenInvalid
from tests.sdk.kit.service import FOREIGN_KEY, JWKS_URL, Service
from tests.support.accounts import Account
from tests.support.mfa import MFA, challenge_of, enrolled
from tests.support.tokens import TokenForge, b64url, b64url_json

pytestmark = pytest.mark.integration


def _live_claims(service: Service, account: Account, **changes: Any) -> dict[str, Any]:
    issued = jwt.decode(account.access_token, options={"verify_signature": False})
    return service.forge.claims(sub=issued["sub"], sid=issued["sid"], **changes)


async def test_a_token_the_service_issued_gives_its_typed_claims(service: Service) -> None:
    account = await service.account()

    claims = await service.verifier().verify(account.access_token)

    assert isinstance(claims, Claims)
    assert claims.sub == account.user_id
    assert claims.sid == str(account.session_id)
    assert (claims.iss, claims.aud, claims.token_use) == ("authapi", ("authapi",), "access")
    assert claims.client_id == "default"
    assert claims.amr == ("pwd",)
    assert (claims.acr, claims.aal, claims.second_factor) == ("urn:authapi:aal1", 1, False)
    assert claims.email_verified is False
    assert claims.exp - claims.iat == service.settings.access_token_ttl_seconds
    assert claims.raw["jti"] == claims.jti
    with pytest.raises(AttributeError):
        claims.sub = "someone else"  # type: ignore[misc]


async def test_a_session_with_a_second_factor_says_so(service: Service) -> None:
    async with service.api() as api:
        user = await enrolled(api, service.clock)
        challenge = await challenge_of(api, user)
        reply = await api.post(
            f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(service.clock)}
        )
    assert reply.status == 200, reply.body

    claims = await service.verifier().verify(reply.body["access_token"])

    assert claims.amr == ("pwd", "otp")
    assert (claims.acr, claims.aal, claims.second_factor) == ("urn:authapi:aal2", 2, True)
    assert claims.mfa_time == int(service.epoch())


async def test_the_control_forged_token_is_accepted(service: Service) -> None:
    account = await service.account()
    claims = await service.verifier().verify(service.forge.sign(_live_claims(service, account)))
    assert claims.sub == account.user_id


def _hand_signed(forge: TokenForge, payload: str, header: dict[str, Any] | None = None) -> str:
    """RS256 with the service's key over exactly this header and payload text (PyJWT would
    refuse to write a header without a string kid)."""
    header = header if header is not None else {"alg": "RS256", "typ": "at+jwt", "kid": forge.kid}
    signing_input = f"{b64url_json(header)}.{b64url(payload.encode())}"
    signature = forge.signing_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


Forgery = Callable[[TokenForge, dict[str, Any]], str]
# name: (the forgery, the reason the verifier gives)
FORGERIES: dict[str, tuple[Forgery, str]] = {
    "alg none": (lambda f, c: f.alg_none(c), "algorithm not allowed"),
    "hs256 keyed with the public key": (
        lambda f, c: f.hs256_with_public_key(c),
        "algorithm not allowed",
    ),
    "foreign key under our kid": (lambda f, c: f.sign(c, key=FOREIGN_KEY), "bad signature"),
    "foreign key, its own kid": (
        lambda f, c: f.sign(c, key=FOREIGN_KEY, headers={"kid": key_id(FOREIGN_KEY.public_key())}),
        "unknown key",
    ),
    "payload edited": (
        lambda f, c: f.with_payload(f.sign(c), sub="00000000-0000-0000-0000-000000000000"),
        "bad signature",
    ),
    "wrong audience": (lambda f, c: f.sign({**c, "aud": "another-service"}), "audience"),
    "audiences without ours": (lambda f, c: f.sign({**c, "aud": ["a", "b"]}), "audience"),
    "wrong issuer": (lambda f, c: f.sign({**c, "iss": "https://attacker.example"}), "issuer"),
    "issuer that only starts like ours": (lambda f, c: f.sign({**c, "iss": "authapi/"}), "issuer"),
    "not yet valid": (lambda f, c: f.sign({**c, "nbf": c["nbf"] + 3600}), "not yet valid"),
    "issued in the future": (lambda f, c: f.sign({**c, "iat": c["iat"] + 3600}), "not yet valid"),
    "refresh token_use": (lambda f, c: f.sign({**c, "token_use": "refresh"}), "token_use"),
    "mfa_enrol token_use": (lambda f, c: f.sign({**c, "token_use": "mfa_enrol"}), "token_use"),
    "plain JWT typ": (lambda f, c: f.sign(c, headers={"typ": "JWT"}), "typ"),
    "jku header": (lambda f, c: f.sign(c, headers={"jku": "https://x.example/k"}), "header"),
    "x5u header": (lambda f, c: f.sign(c, headers={"x5u": "https://x.example/c"}), "header"),
    "jwk header": (
        lambda f, c: f.sign(c, headers={"jwk": public_jwk(f.signing_key.public_key())}),
        "header",
    ),
    "crit header": (lambda f, c: f.sign(c, headers={"crit": ["exp"]}), "header"),
    "no kid": (
        lambda f, c: _hand_signed(f, json.dumps(c), {"alg": "RS256", "typ": "at+jwt"}),
        "no key id",
    ),
    "kid a number": (
        lambda f, c: _hand_signed(f, json.dumps(c), {"alg": "RS256", "typ": "at+jwt", "kid": 7}),
        "no key id",
    ),
    "exp a string": (lambda f, c: f.sign({**c, "exp": str(c["exp"])}), "exp is not a number"),
    "sub a number": (lambda f, c: f.sign({**c, "sub": 42}), "sub is not a string"),
    "aal true": (lambda f, c: f.sign({**c, "aal": True}), "aal has the wrong type"),
    "duplicate sub": (
        lambda f, c: _hand_signed(f, json.dumps(c)[:-1] + ', "sub": "00000000-0000"}'),
        "payload is not a JSON object",
    ),
    "padded signature": (lambda f, c: f.sign(c) + "==", "signature is not base64url"),
    "standard base64 signature": (
        lambda f, c: f.sign(c).replace("-", "+").replace("_", "/") + "+/",
        "base64url",
    ),
    "two segments": (lambda f, c: f.sign(c).rsplit(".", 1)[0], "not a compact JWS"),
    "oversized": (lambda f, c: f.sign({**c, "pad": "x" * 9000}), "token too long"),
}


def _without(name: str) -> Forgery:
    return lambda forge, claims: forge.sign({k: v for k, v in claims.items() if k != name})


for _name in ("iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "token_use"):
    FORGERIES[f"missing {_name}"] = (_without(_name), f"{_name} missing")


@pytest.mark.parametrize("name", FORGERIES)
async def test_a_forged_token_is_refused_for_its_defect(service: Service, name: str) -> None:
    # offline, the session is not looked at: any live claim set will do
    forgery, reason = FORGERIES[name]
    token = forgery(service.forge, service.forge.claims())

    with pytest.raises(TokenInvalid) as refused:
        await service.verifier().verify(token)

    assert not isinstance(refused.value, TokenExpired)
    assert reason in refused.value.reason
    assert token not in str(refused.value)  # a refusal never repeats the token


@pytest.mark.parametrize("name", ["alg none", "hs256 keyed with the public key", "plain JWT typ"])
async def test_a_wrong_header_is_refused_before_any_key_is_fetched(
    service: Service, name: str
) -> None:
    token = FORGERIES[name][0](service.forge, service.forge.claims())

    with pytest.raises(TokenInvalid):
        await service.verifier().verify(token)
    assert service.jwks_requests == 0


async def test_a_refresh_token_is_no_access_token(service: Service) -> None:
    account = await service.account()
    with pytest.raises(TokenInvalid, match="not a compact JWS"):
        await service.verifier().verify(account.refresh_token)


async def test_expiry_is_judged_on_the_clock_with_a_small_leeway(service: Service) -> None:
    account = await service.account()
    verifier = service.verifier(leeway=5)
    ttl = service.settings.access_token_ttl_seconds

    service.clock.advance(ttl + 4)  # 4 s past exp: within the leeway
    assert (await verifier.verify(account.access_token)).sub == account.user_id

    service.clock.advance(2)
    with pytest.raises(TokenExpired):
        await verifier.verify(account.access_token)
    with pytest.raises(TokenExpired):
        await service.verifier(leeway=0).verify(
            service.forge.sign(_live_claims(service, account, exp=int(service.epoch())))
        )


async def test_a_verifier_for_another_audience_or_issuer_refuses_real_tokens(
    service: Service,
) -> None:
    account = await service.account()
    with pytest.raises(TokenInvalid, match="audience"):
        await service.verifier(audience="billing").verify(account.access_token)
    with pytest.raises(TokenInvalid, match="issuer"):
        await service.verifier(issuer="https://auth.example.com").verify(account.access_token)


@pytest.mark.parametrize("leeway", [-1, 61])
async def test_a_large_leeway_is_refused_at_construction(service: Service, leeway: float) -> None:
    with pytest.raises(ValueError, match="leeway"):
        service.verifier(leeway=leeway)


async def test_no_token_reaches_the_logs(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    account = await service.account()
    verifier = service.verifier()
    tokens = [account.access_token] + [
        forgery(service.forge, service.forge.claims()) for forgery, _ in FORGERIES.values()
    ]
    caplog.set_level(logging.DEBUG)
    verifier.jwks_url = JWKS_URL + ".missing"  # a failing fetch logs a warning: still no token

    for token in tokens:
        with contextlib.suppress(TokenInvalid, JwksUnavailable):
            await verifier.verify(token)
        service.clock.advance(31)

    assert any("JWKS fetch failed" in record.getMessage() for record in caplog.records)
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for token in tokens:
        for segment in token.split("."):
            assert len(segment) < 8 or segment not in logged
