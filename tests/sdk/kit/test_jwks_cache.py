"""The verifiers hold the service's JWKS as its Cache-Control says, pick up a rotated key with
one fetch, and never let tokens with made-up key ids flood the JWKS endpoint.

Time is the service's clock, moved by the tests; every JWKS request is answered by the real
app and counted there.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from authapi.key_material import generate_private_key_pem, load_private_key
from authapi.signing.keys import key_id
from authapi_client._kit_jwks import max_age
from authapi_client.verify import JwksUnavailable, TokenInvalid
from tests.sdk.kit.service import JWKS_URL, BlockingService, Service
from tests.support.tokens import TokenForge

pytestmark = pytest.mark.integration

MAX_AGE = 300  # what the service's JWKS answer says (checked below, not assumed)
INTERVAL = 30.0  # the verifiers' default refetch interval
# kids no JWKS has: a forger's tokens, signed with the service's own key so only the kid is wrong
MADE_UP_KIDS = [key_id(load_private_key(generate_private_key_pem()).public_key())] + [
    f"made-up-{n}" for n in range(199)
]


def _with_kid(forge: TokenForge, kid: str) -> str:
    return forge.sign(forge.claims(), headers={"kid": kid})


async def test_the_service_says_how_long_its_key_set_keeps(service: Service) -> None:
    reply = await service.http.get(JWKS_URL)
    assert reply.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    assert max_age(reply.headers["cache-control"]) == MAX_AGE


async def test_the_key_set_is_held_for_its_max_age_then_fetched_again(service: Service) -> None:
    token = (await service.account()).access_token
    verifier = service.verifier()

    await verifier.verify(token)
    service.clock.advance(MAX_AGE - 1)
    await verifier.verify(token)
    assert service.jwks_requests == 1

    service.clock.advance(1)
    await verifier.verify(token)
    assert service.jwks_requests == 2


async def test_an_unknown_kid_costs_one_fetch_then_is_refused(service: Service) -> None:
    verifier = service.verifier()
    await verifier.verify(service.forge.sign(service.forge.claims()))
    service.clock.advance(INTERVAL)

    with pytest.raises(TokenInvalid, match="unknown key"):
        await verifier.verify(_with_kid(service.forge, MADE_UP_KIDS[0]))
    assert service.jwks_requests == 2
    with pytest.raises(TokenInvalid, match="unknown key"):
        await verifier.verify(_with_kid(service.forge, MADE_UP_KIDS[0]))
    assert service.jwks_requests == 2


async def test_a_flood_of_made_up_kids_costs_one_fetch_per_interval(service: Service) -> None:
    verifier = service.verifier()
    await verifier.verify(service.forge.sign(service.forge.claims()))
    service.clock.advance(INTERVAL)

    for kid in MADE_UP_KIDS:  # 200 kids over 20 s of one interval
        with pytest.raises(TokenInvalid, match="unknown key"):
            await verifier.verify(_with_kid(service.forge, kid))
        service.clock.advance(0.1)
    assert service.jwks_requests == 2

    service.clock.advance(INTERVAL - 20)
    for kid in MADE_UP_KIDS[:10]:
        with pytest.raises(TokenInvalid):
            await verifier.verify(_with_kid(service.forge, kid))
    assert service.jwks_requests == 3
    # and real tokens went on passing throughout, without a fetch of their own
    assert (await verifier.verify(service.forge.sign(service.forge.claims()))).sub
    assert service.jwks_requests == 3


async def test_concurrent_tasks_share_one_fetch(service: Service) -> None:
    verifier = service.verifier()
    tokens = [_with_kid(service.forge, kid) for kid in MADE_UP_KIDS[:50]]
    tokens += [service.forge.sign(service.forge.claims())] * 50

    results = await asyncio.gather(*(verifier.verify(t) for t in tokens), return_exceptions=True)

    assert all(isinstance(result, TokenInvalid) for result in results[:50])
    assert not any(isinstance(result, BaseException) for result in results[50:])
    assert service.jwks_requests == 1


async def test_a_rotated_key_is_picked_up_with_one_fetch(service: Service) -> None:
    verifier = service.verifier()
    before = (await service.account()).access_token
    await verifier.verify(before)

    service.rotate()  # the new app signs with a new key and still publishes the old one
    after = (await service.account()).access_token
    # within the refetch interval of the last fetch the new kid is not looked for yet...
    with pytest.raises(TokenInvalid, match="unknown key"):
        await verifier.verify(after)
    service.clock.advance(INTERVAL)
    # ...after it, one fetch finds it, and tokens of the retired key still pass
    assert (await verifier.verify(after)).sub
    assert (await verifier.verify(before)).sub
    assert service.jwks_requests == 2


async def test_held_keys_stay_usable_while_the_key_set_cannot_be_read(service: Service) -> None:
    token = (await service.account()).access_token
    verifier = service.verifier()
    await verifier.verify(token)

    verifier.jwks_url = JWKS_URL + ".missing"  # the endpoint now answers 404
    service.clock.advance(MAX_AGE)
    assert (await verifier.verify(token)).sub
    service.clock.advance(INTERVAL)
    with pytest.raises(JwksUnavailable):
        await verifier.verify(_with_kid(service.forge, MADE_UP_KIDS[0]))
    assert service.jwks_requests == 3


async def test_a_verifier_that_never_read_the_key_set_says_it_is_unavailable(
    service: Service,
) -> None:
    verifier = service.verifier(jwks_url=JWKS_URL + ".missing")
    with pytest.raises(JwksUnavailable):
        await verifier.verify(service.forge.sign(service.forge.claims()))


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("public, max-age=300", 300),
        ("max-age=0", 0),
        ("no-store", 0),
        ("public, no-cache, max-age=60", 0),
        ("private", 300),
        ("max-age=99999999", 86400),
        ("max-age=-5", 300),
        (None, 300),
    ],
)
def test_cache_control_parsing(header: str | None, seconds: float) -> None:
    assert max_age(header) == seconds


def test_the_sync_verifier_holds_the_key_set_for_its_max_age(
    blocking_service: BlockingService,
) -> None:
    service = blocking_service
    account = service.account()
    verifier = service.verifier()

    assert verifier.verify(account.access_token).sub == account.user_id
    service.clock.advance(MAX_AGE - 1)
    verifier.verify(account.access_token)
    assert service.jwks_requests == 1
    service.clock.advance(1)
    verifier.verify(account.access_token)
    assert service.jwks_requests == 2


def test_threads_flooding_made_up_kids_cause_one_fetch(blocking_service: BlockingService) -> None:
    service = blocking_service
    verifier = service.verifier()
    tokens = [_with_kid(service.forge, kid) for kid in MADE_UP_KIDS[:40]]

    def refused(token: str) -> bool:
        try:
            verifier.verify(token)
        except TokenInvalid:
            return True
        return False

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert all(pool.map(refused, tokens))
    assert service.jwks_requests == 1


def test_the_sync_verifier_picks_up_a_rotated_key(blocking_service: BlockingService) -> None:
    service = blocking_service
    verifier = service.verifier()
    before = service.account().access_token
    verifier.verify(before)

    service.rotate()
    service.clock.advance(INTERVAL)
    after = service.account().access_token

    assert verifier.verify(after).sub
    assert verifier.verify(before).sub
    assert service.jwks_requests == 2
