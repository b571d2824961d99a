"""The kit against `make run`'s local cloud, over real sockets: the verifier's own HTTP client
reads the JWKS the running API serves, and the claims the local cloud's JWT authorizer hands
the example route parse back to the verifier's. The cloud is the SDK suite's session one
(tests/sdk/conftest.py): nothing here needs a cloud of its own."""

from __future__ import annotations

import httpx
import pytest

from authapi_client.aws_lambda import claims_from_event
from authapi_client.verify import AsyncTokenVerifier, TokenInvalid, TokenVerifier
from tests.sdk.cloud import TIMEOUT
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.tokens import b64url_json

pytestmark = pytest.mark.integration


def test_tokens_of_the_running_service_verify_with_the_kits_own_http_client(
    base_url: str,
) -> None:
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        registered = client.post(
            "/api/v1/auth/register", json={"email": unique_email(), "password": STRONG_PASSWORD}
        ).json()
        token = registered["access_token"]
        whoami = client.get("/api/v1/examples/whoami", headers={"authorization": f"Bearer {token}"})
    assert whoami.status_code == 200

    with TokenVerifier(
        issuer="authapi",
        audience="authapi",
        jwks_url=base_url + "/.well-known/jwks.json",
    ) as verifier:
        claims = verifier.verify(token)
        forged = f"{b64url_json({'alg': 'none', 'typ': 'at+jwt', 'kid': 'k'})}.e30."
        with pytest.raises(TokenInvalid, match="algorithm"):
            verifier.verify(forged)

    assert claims.sub == registered["user"]["id"]
    # what the JWT authorizer's stand-in passed the example function, every value a string
    passed = whoami.json()["claims"]
    assert passed["amr"] == "[pwd]"
    event = {"requestContext": {"authorizer": {"jwt": {"claims": passed}}}}
    assert claims_from_event(event, issuer="authapi", audience="authapi") == claims


async def test_the_async_verifiers_own_http_client_reads_the_running_services_jwks(
    base_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT) as client:
        body = {"email": unique_email(), "password": STRONG_PASSWORD}
        registered = (await client.post("/api/v1/auth/register", json=body)).json()

    async with AsyncTokenVerifier(
        issuer="authapi",
        audience="authapi",
        jwks_url=base_url + "/.well-known/jwks.json",
    ) as verifier:
        claims = await verifier.verify(registered["access_token"])

    assert claims.sub == registered["user"]["id"]
