"""A signing key rotated (publish, promote, retire) while two clients keep calling /me and
refreshing: three execution environments (the real Lambda handler) reading moto's SSM server,
each on its own cache phase, and a resource server that caches the JWKS and never re-reads it
for an unknown key (the strictest verifier). With the rotation's waits nobody ever sees a 401;
with either wait cut short, the same run does (so the run can tell).

Everything time-based, scaled down, moves on one manual clock: the environments' SSM caches,
token lifetimes, the verifier's cache and the rotation's safe times.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import jwt
import pytest

from devtools.key_rotation import Rotation, RotationRefused, Waits
from devtools.rotate_signing_key import waits
from tests.support.accounts import register
from tests.support.aws import PREFIX, MakeLambda, SsmEndpoint, put_kms_key_arn
from tests.support.clock import ManualClock
from tests.support.http import SyncApiClient

if TYPE_CHECKING:
    from authapi.clock import Clock

pytestmark = pytest.mark.aws_lambda

ACCESS_TOKEN_TTL_SECONDS = 60  # the shortest Settings allow
SSM_CACHE_SECONDS = 10
SSM_MAX_STALE_SECONDS = 30
VERIFIER_CACHE_SECONDS = 20  # the JWKS max-age and API Gateway's hour, scaled
SAFE_WAITS = waits(
    access_token_ttl_seconds=ACCESS_TOKEN_TTL_SECONDS,
    ssm_cache_seconds=SSM_CACHE_SECONDS,
    ssm_max_stale_seconds=SSM_MAX_STALE_SECONDS,
    verifier_cache_seconds=VERIFIER_CACHE_SECONDS,
    publish_minimum_seconds=40,  # the two hours, scaled
)
ENVIRONMENTS = 3
REQUEST_EVERY_SECONDS = 2  # the rotation is tried every second
# one client refreshes at every turn, the other lets its token get close to expiry
CLIENT_REFRESH_AT_AGE = (4, ACCESS_TOKEN_TTL_SECONDS - 8)
# just after the verifier's second fetch of the JWKS: it holds the old key set 20 s longer
PUBLISH_AT_SECONDS = 21


@pytest.fixture(autouse=True)
def pyjwt_on_the_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The one clock of the run. The app checks token times on it; the test's resource server
    verifies with PyJWT, which reads the wall clock, so PyJWT reads the manual clock here too."""
    clock = ManualClock()

    class ClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            return clock.now().astimezone(tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", ClockDatetime)
    return clock


@dataclass
class CachingVerifier:
    """A resource server: keeps the JWKS it fetched for its cache age, whatever kid comes."""

    clock: Clock
    fetched_at: datetime | None = None
    keys: dict[str, Any] = field(default_factory=dict)

    def verifies(self, token: str, jwks_source: SyncApiClient) -> bool:
        now = self.clock.now()
        if self.fetched_at is None or now - self.fetched_at >= timedelta(
            seconds=VERIFIER_CACHE_SECONDS
        ):
            jwks = jwks_source.get("/.well-known/jwks.json").body
            self.keys = {key["kid"]: jwt.PyJWK(key) for key in jwks["keys"]}
            self.fetched_at = now
        key = self.keys.get(jwt.get_unverified_header(token)["kid"])
        if key is None:
            return False
        jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
        return True


@dataclass
class Client:
    """A signed-in client: calls /me at each of its turns, refreshing first once its access
    token is `refresh_at_age` seconds old."""

    refresh_at_age: int
    access_token: str
    refresh_token: str
    issued_at: int = 0
    signing_kids: list[str] = field(default_factory=list)  # in the order its tokens showed them

    def act(
        self,
        second: int,
        environment: SyncApiClient,
        verifier: CachingVerifier,
        jwks_source: SyncApiClient,
    ) -> list[str]:
        """What failed for this client this second."""
        if second - self.issued_at >= self.refresh_at_age:
            refreshed = environment.post(
                "/api/auth/refresh-token", json={"refresh_token": self.refresh_token}
            )
            if refreshed.status != 200:
                return [f"{second} s: refresh {refreshed.status} {refreshed.code}"]
            self.access_token = refreshed.body["access_token"]
            self.refresh_token = refreshed.body["refresh_token"]
            self.issued_at = second
        kid = jwt.get_unverified_header(self.access_token)["kid"]
        if not self.signing_kids or self.signing_kids[-1] != kid:
            self.signing_kids.append(kid)
        failures = []
        me = environment.get("/api/auth/me", token=self.access_token)
        if me.status != 200:
            failures.append(f"{second} s: /me {me.status} {me.code}")
        if not verifier.verifies(self.access_token, jwks_source):
            failures.append(f"{second} s: the resource server does not know {kid}")
        return failures


@dataclass
class Run:
    clients: list[Client]
    failures: list[str] = field(default_factory=list)
    phases: list[tuple[str, int]] = field(default_factory=list)  # (phase, second it ran)
    refusals: dict[str, int] = field(default_factory=dict)


def rotate_under_traffic(
    ssm_endpoint: SsmEndpoint,
    make_lambda: MakeLambda,
    clock: ManualClock,
    rotation_waits: Waits,
    *,
    until_a_failure: bool = False,
) -> Run:
    ssm = ssm_endpoint.client()
    put_kms_key_arn(ssm)
    rotation = Rotation(ssm, prefix=PREFIX, waits=rotation_waits, clock=clock, key_bits=2048)
    environments = [
        SyncApiClient.aws_lambda(
            make_lambda(
                clock=clock,
                access_token_ttl_seconds=ACCESS_TOKEN_TTL_SECONDS,
                ssm_cache_seconds=SSM_CACHE_SECONDS,
                ssm_max_stale_seconds=SSM_MAX_STALE_SECONDS,
            )
        )
        for _ in range(ENVIRONMENTS)
    ]
    verifier = CachingVerifier(clock)
    # one client refreshes often (it holds a new key's token as soon as one is signed), the other
    # keeps each token almost to its expiry (it holds an old key's token as long as one lives)
    accounts = [register(environments[0]) for _ in CLIENT_REFRESH_AT_AGE]
    run = Run(
        [
            Client(age, account.access_token, account.refresh_token)
            for age, account in zip(CLIENT_REFRESH_AT_AGE, accounts, strict=True)
        ]
    )
    phases = iter(("publish", "promote", "retire"))
    next_phase: str | None = None
    rotation_seconds = rotation_waits.publish_to_promote + rotation_waits.promote_to_retire
    retire_at = PUBLISH_AT_SECONDS + int(rotation_seconds.total_seconds())
    # on past the retire until every environment has read it, and the rushed run's old tokens
    # have been shown to each of them
    for second in range(retire_at + 3 * SSM_CACHE_SECONDS):
        if second == PUBLISH_AT_SECONDS:
            next_phase = next(phases)
        if (phase := next_phase) is not None:
            try:
                getattr(rotation, phase)()
            except RotationRefused:
                run.refusals[phase] = run.refusals.get(phase, 0) + 1
            else:
                run.phases.append((phase, second))
                next_phase = next(phases, None)
        if second % REQUEST_EVERY_SECONDS == 0:
            # the clients take turns, and each environment serves every third request: their
            # SSM reads, cache expiries and clients fall on different seconds
            turn = second // REQUEST_EVERY_SECONDS
            run.failures += run.clients[turn % len(run.clients)].act(
                second,
                environments[turn % ENVIRONMENTS],
                verifier,
                environments[(turn + 1) % ENVIRONMENTS],
            )
            if until_a_failure and run.failures:
                break
        clock.advance(1)
    return run


def test_a_rotation_with_its_waits_gives_no_client_a_401(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda, pyjwt_on_the_clock: ManualClock
) -> None:
    run = rotate_under_traffic(ssm_endpoint, make_lambda, pyjwt_on_the_clock, SAFE_WAITS)

    assert run.failures == []
    promote_at = PUBLISH_AT_SECONDS + int(SAFE_WAITS.publish_to_promote.total_seconds())
    retire_at = promote_at + int(SAFE_WAITS.promote_to_retire.total_seconds())
    # each phase ran at the first second it was allowed, and was refused every second before
    assert run.phases == [
        ("publish", PUBLISH_AT_SECONDS),
        ("promote", promote_at),
        ("retire", retire_at),
    ]
    assert run.refusals == {
        "promote": promote_at - PUBLISH_AT_SECONDS - 1,
        "retire": retire_at - promote_at - 1,
    }
    # the clients really crossed the rotation: tokens of the old key, then of the new one (the
    # frequent one also back and forth, while environments disagreed on which key signs)
    for client in run.clients:
        assert len(set(client.signing_kids)) == 2
        assert client.signing_kids[-1] == run.clients[0].signing_kids[-1]


@pytest.mark.parametrize(
    ("rushed", "failure"),
    [
        # waiting for the environments' SSM cache alone, not for the verifiers' JWKS caches
        (
            replace(SAFE_WAITS, publish_to_promote=timedelta(seconds=SSM_CACHE_SECONDS)),
            "resource server",
        ),
        # waiting for stale environments alone, not for the tokens they signed to expire
        (
            replace(SAFE_WAITS, promote_to_retire=timedelta(seconds=SSM_MAX_STALE_SECONDS)),
            "/me 401",
        ),
    ],
    ids=["promote-too-early", "retire-too-early"],
)
def test_each_wait_cut_short_gives_a_client_a_401(
    ssm_endpoint: SsmEndpoint,
    make_lambda: MakeLambda,
    pyjwt_on_the_clock: ManualClock,
    rushed: Waits,
    failure: str,
) -> None:
    run = rotate_under_traffic(
        ssm_endpoint, make_lambda, pyjwt_on_the_clock, rushed, until_a_failure=True
    )

    assert run.failures, run.phases
    assert failure in run.failures[0]
