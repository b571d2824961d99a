"""The cost of a request: statements and wire round trips per endpoint, on a warm connection.

The budget (issue 10, CONVENTIONS.md "Cost of a request"): me 1 statement, logout 1, refresh 2,
register 2, login 3 (a failed one 3 too: the rate-limit hit, counting the attempt, then its
audit row, issue 17, which only the password check can decide); issue 11's sessions API 1 each
(list, end one, logout of the others); issue
12's OAuth endpoints as their JSON twins plus nothing: the password grant 3 (login's), the refresh
grant 2 (refresh's), and revocation and introspection 2 each (the rate-limit hit, then one
statement: the session ended, or the session's liveness read); each
statement 1 round trip (psycopg sends Parse, Bind, Execute and Sync in one flight, unnamed:
issue 10's round-trip targets), no pre-ping and no
BEGIN/COMMIT around a single statement. A flow that needs another write folds it
into an existing statement or changes this budget, with the reason in the commit.

Counted as `make bench` counts them: SQLAlchemy's `before_cursor_execute` for statements, and
`devtools.bench.wire.WireCounter`, a proxy between the app and PostgreSQL, for round trips.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.resources import app_resources
from devtools.bench.wire import WireCounter, classify, short_sql
from tests.support.accounts import STRONG_PASSWORD, Account, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, Reply, serving
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    INTROSPECT,
    OAUTH_SETTINGS,
    PUBLIC_CLIENT,
    REVOKE,
    TOKEN,
)
from tests.support.settings import ONE_CONNECTION, make_settings

# the budget is the head schema's: on the schema before a migration, a statement that needs its
# new columns is sent again without them (db/expand.py), which the budget does not count on
pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

STATEMENTS = {
    "me": 1,
    "logout": 1,
    "refresh": 2,
    "register": 2,
    "login": 3,
    "login_failed": 3,
    "sessions": 1,
    "end_session": 1,
    "logout_others": 1,
    "oauth_password": 3,
    "oauth_refresh": 2,
    "oauth_introspect": 2,
    "oauth_revoke": 2,
    # issue 14 (MFA). login_mfa: login's 3, the challenge's insert instead of the session's.
    # Each code check: the rate limit, counting the attempt (an independent write), spending the
    # factor (its own statement: nothing else may run unless it matched), then the flow's writes
    # with the attempt given back. enrol: + the bearer's session, the upsert; verify and step-up:
    # + the bearer's session, reading the factor; challenge: + claiming the challenge.
    # verify's activation carries its recovery codes and the session's mark in the factor's
    # statement (a cut after it cannot leave an active factor without codes), so its last
    # statement is the throttles' reset alone: still 6
    "mfa_enrol": 5,
    "mfa_verify": 6,
    "login_mfa": 3,
    "mfa_challenge": 5,
    "mfa_step_up": 6,
    # regenerate and disable, like step-up (the bearer's session, reading the factor, the rate
    # limit, the count, the spend), then one statement: the old codes deleted and the new ones
    # stored (regenerate), or the codes, the other sessions and the factor gone (disable), each
    # with the attempt given back
    "mfa_regenerate": 6,
    "mfa_disable": 6,
}
ROUND_TRIPS_PER_STATEMENT = 1
SESSIONS = "/api/v1/auth/sessions"
MFA = "/api/v1/auth/mfa"


@dataclass
class Observed:
    statements: list[str]
    round_trips: list[str]

    @property
    def by_purpose(self) -> dict[str, int]:
        return classify(self.round_trips)


def _upstream(database: ScratchDatabase) -> str:
    """The server itself (never PgBouncer: it would add round trips of its own), as WireCounter
    takes it: host:port, or a unix socket path."""
    url = make_url(database.direct_url or database.url)
    if url.host:
        return f"{url.host}:{url.port or 5432}"
    socket_dir = url.query["host"]
    assert isinstance(socket_dir, str)
    return f"{socket_dir}/.s.PGSQL.{url.port or 5432}"


@pytest.fixture(scope="module")
def wire(test_database: ScratchDatabase) -> Iterator[WireCounter]:
    with tempfile.TemporaryDirectory(prefix="authapi-wire-") as directory:
        counter = WireCounter(directory, _upstream(test_database))
        counter.start()
        try:
            yield counter
        finally:
            counter.stop()


class Meter:
    """Runs one request and returns what it cost."""

    def __init__(self, client: ApiClient, wire: WireCounter):
        self.client = client
        self._wire = wire
        self._statements: list[str] = []

    def on_statement(self, *args: Any) -> None:
        self._statements.append(short_sql(args[2]))

    async def measure(self, request: Callable[[], Awaitable[Reply]]) -> tuple[Reply, Observed]:
        self._wire.take()
        self._statements.clear()
        reply = await request()
        return reply, Observed(list(self._statements), self._wire.take())


@pytest.fixture
async def meter(
    wire: WireCounter, test_database: ScratchDatabase, signing_key_pem: str
) -> AsyncIterator[Meter]:
    url = make_url(test_database.direct_url or test_database.url)
    counted = url.set(host="", port=None, query={"host": wire.directory})
    database = ScratchDatabase(
        url=counted.render_as_string(hide_password=False),
        server=None,
        role_prefix=test_database.role_prefix,
    )
    app = create_app(make_settings(database, signing_key_pem, **ONE_CONNECTION, **OAUTH_SETTINGS))
    async with serving(app) as client:
        meter = Meter(client, wire)
        engine = app_resources(app).database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", meter.on_statement)
        # the first requests open the connection and fill the driver's type caches: not counted
        await _flow(client, lambda request: request())
        yield meter


async def _flow(
    client: ApiClient, run: Callable[[Callable[[], Awaitable[Reply]]], Awaitable[Any]]
) -> dict[str, Observed]:
    """register -> a wrong password -> login -> me -> refresh -> sessions -> end the other ->
    logout others -> logout, each through `run`."""
    observed: dict[str, Observed] = {}

    async def step(name: str, request: Callable[[], Awaitable[Reply]], status: int) -> Reply:
        result = await run(request)
        reply, costs = result if isinstance(result, tuple) else (result, None)
        assert reply.status == status, (name, reply)
        if costs is not None:
            observed[name] = costs
        return reply

    email = unique_email()
    credentials = {"email": email, "password": STRONG_PASSWORD}
    reply = await step("register", lambda: client.post("/api/auth/register", json=credentials), 201)
    Account.registered(reply, password=STRONG_PASSWORD)
    wrong = {**credentials, "password": "not the password"}
    await step("login_failed", lambda: client.post("/api/auth/login", json=wrong), 401)
    login = await step("login", lambda: client.post("/api/auth/login", json=credentials), 200)
    bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
    await step("me", lambda: client.get("/api/auth/me", headers=bearer), 200)
    refresh = {"refresh_token": login.body["refresh_token"]}
    refreshed = await step(
        "refresh", lambda: client.post("/api/auth/refresh-token", json=refresh), 200
    )
    bearer = {"Authorization": f"Bearer {refreshed.body['access_token']}"}
    sessions = await step("sessions", lambda: client.get(SESSIONS, headers=bearer), 200)
    registered = next(s["id"] for s in sessions.body["sessions"] if not s["current"])
    await step(
        "end_session",
        lambda: client.request("DELETE", f"{SESSIONS}/{registered}", headers=bearer),
        204,
    )
    others = {"scope": "others"}
    await step(
        "logout_others",
        lambda: client.post("/api/auth/logout", headers=bearer, params=others),
        204,
    )
    await step("logout", lambda: client.post("/api/auth/logout", headers=bearer), 204)

    grant = {"grant_type": "password", "username": email, "password": STRONG_PASSWORD}
    signed_in = await step("oauth_password", lambda: _oauth(client, TOKEN, grant), 200)
    refresh = {"grant_type": "refresh_token", "refresh_token": signed_in.body["refresh_token"]}
    rotated = await step("oauth_refresh", lambda: _oauth(client, TOKEN, refresh), 200)
    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()
    await step(
        "oauth_introspect",
        lambda: client.post(
            INTROSPECT,
            data={"token": rotated.body["access_token"]},
            headers={"Authorization": f"Basic {basic}"},
        ),
        200,
    )
    revoke = {"token": rotated.body["refresh_token"]}
    await step("oauth_revoke", lambda: _oauth(client, REVOKE, revoke), 200)
    await _mfa_flow(client, step)
    return observed


async def _mfa_flow(
    client: ApiClient, step: Callable[[str, Callable[[], Awaitable[Reply]], int], Awaitable[Reply]]
) -> None:
    """enrol -> verify -> login (a challenge) -> answer it -> step up -> regenerate the recovery
    codes -> disable, on the wall clock: the code is spent at verify, so the later steps give
    recovery codes (disable one of the regenerated set)."""
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    registered = await step(
        "mfa_register", lambda: client.post("/api/auth/register", json=credentials), 201
    )
    bearer = {"Authorization": f"Bearer {registered.body['access_token']}"}
    password = {"password": STRONG_PASSWORD}
    enrol = await step(
        "mfa_enrol", lambda: client.post(f"{MFA}/totp", json=password, headers=bearer), 200
    )
    code = {"code": pyotp.TOTP(enrol.body["secret"]).now()}
    verified = await step(
        "mfa_verify", lambda: client.post(f"{MFA}/totp/verify", json=code, headers=bearer), 200
    )
    recovery = verified.body["recovery_codes"]
    login = await step(
        "login_mfa", lambda: client.post("/api/v1/auth/login", json=credentials), 202
    )
    answer = {"challenge": login.body["challenge"], "recovery_code": recovery[0]}
    await step("mfa_challenge", lambda: client.post(f"{MFA}/challenge", json=answer), 200)
    again = {"recovery_code": recovery[1]}
    stepped = await step(
        "mfa_step_up", lambda: client.post(f"{MFA}/step-up", json=again, headers=bearer), 200
    )
    bearer = {"Authorization": f"Bearer {stepped.body['access_token']}"}  # a recent factor
    fresh = {"recovery_code": recovery[2]}
    regenerated = await step(
        "mfa_regenerate",
        lambda: client.post(f"{MFA}/recovery-codes", json=fresh, headers=bearer),
        200,
    )
    off = {"password": STRONG_PASSWORD, "recovery_code": regenerated.body["recovery_codes"][0]}
    await step("mfa_disable", lambda: client.post(f"{MFA}/disable", json=off, headers=bearer), 204)


def _oauth(client: ApiClient, path: str, form: dict[str, str]) -> Awaitable[Reply]:
    return client.post(path, data={**form, "client_id": PUBLIC_CLIENT})


@pytest.fixture
async def costs(meter: Meter) -> dict[str, Observed]:
    return await _flow(meter.client, meter.measure)


@pytest.mark.parametrize("endpoint", STATEMENTS)
def test_statements_per_request_stay_within_the_budget(
    costs: dict[str, Observed], endpoint: str
) -> None:
    observed = costs[endpoint]
    assert len(observed.statements) == STATEMENTS[endpoint], observed.statements


@pytest.mark.parametrize("endpoint", STATEMENTS)
def test_each_statement_costs_one_round_trip(costs: dict[str, Observed], endpoint: str) -> None:
    observed = costs[endpoint]
    budget = ROUND_TRIPS_PER_STATEMENT * STATEMENTS[endpoint]
    assert len(observed.round_trips) <= budget, observed.round_trips
    # a warm connection: none opened, no ping before the statements, no transaction around them
    assert observed.by_purpose.get("connect", 0) == 0, observed.round_trips
    assert observed.by_purpose.get("pre_ping", 0) == 0, observed.round_trips
    assert observed.by_purpose.get("transaction", 0) == 0, observed.round_trips


# The account lifecycle (issue 13): the per-IP rate-limit hit, then the flow's own statements.
# forgot/resend: the throttled outbox row (1); verify: the spend (1); change/delete: the bearer's
# session and user (1), then the write with its notice (1); email change: the same, its
# confirmation and notice in one throttled statement; reset/confirm with a token that is not
# live: the read that finds it is not (1), nothing written.
LIFECYCLE_STATEMENTS = {
    "forgot": 2,
    "resend": 2,
    "verify_code": 2,
    "password_change": 3,
    "email_change": 3,
    "reset_refused": 2,
    "confirm_refused": 2,
    "delete": 3,
}


async def _lifecycle_flow(meter: Meter) -> dict[str, Observed]:
    client = meter.client
    email = unique_email()
    credentials = {"email": email, "password": STRONG_PASSWORD}
    account = Account.registered(
        await client.post("/api/v1/auth/register", json=credentials), password=STRONG_PASSWORD
    )
    v1 = "/api/v1/auth"
    new_password = STRONG_PASSWORD + " 2"
    requests: dict[str, tuple[Callable[[], Awaitable[Reply]], int]] = {
        "forgot": (lambda: client.post(f"{v1}/password/forgot", json={"email": email}), 202),
        "resend": (
            lambda: client.post(f"{v1}/email/verify/resend", json={"email": unique_email()}),
            202,
        ),
        "verify_code": (
            lambda: client.post(f"{v1}/email/verify", json={"email": email, "code": "000000"}),
            400,
        ),
        "password_change": (
            lambda: client.post(
                f"{v1}/password/change",
                json={"current_password": STRONG_PASSWORD, "new_password": new_password},
                headers=account.auth,
            ),
            204,
        ),
        "email_change": (
            lambda: client.post(
                f"{v1}/email/change",
                json={"new_email": unique_email(), "password": new_password},
                headers=account.auth,
            ),
            202,
        ),
        "reset_refused": (
            lambda: client.post(
                f"{v1}/password/reset", json={"token": "lt_nothing", "new_password": new_password}
            ),
            400,
        ),
        "confirm_refused": (
            lambda: client.post(f"{v1}/email/change/confirm", json={"token": "lt_nothing"}),
            400,
        ),
        "delete": (
            lambda: client.post(
                f"{v1}/me/delete", json={"password": new_password}, headers=account.auth
            ),
            204,
        ),
    }
    observed: dict[str, Observed] = {}
    for name, (request, status) in requests.items():
        reply, costs = await meter.measure(request)
        assert reply.status == status, (name, reply)
        observed[name] = costs
    return observed


async def test_lifecycle_statements_stay_within_the_budget(meter: Meter) -> None:
    observed = await _lifecycle_flow(meter)
    for name, budget in LIFECYCLE_STATEMENTS.items():
        assert len(observed[name].statements) == budget, (name, observed[name].statements)
        assert len(observed[name].round_trips) <= ROUND_TRIPS_PER_STATEMENT * budget, name
