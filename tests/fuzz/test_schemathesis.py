"""Schemathesis against the app's own OpenAPI schema, in process (ASGI): every operation.

Each operation runs Schemathesis's phases (the schema's examples, boundary "coverage" cases,
then random positive and negative cases) with all of its default checks: no 5xx, status codes,
content types, headers and bodies as documented, schema-valid data accepted, invalid data
refused, authentication not ignored, undocumented methods refused. /me and /logout get a new
session's bearer token for every case (a logout must not spoil the next), and half the
schema-valid refresh cases a live refresh token, so the success paths are fuzzed as well.

The budget: AUTHAPI_FUZZ_EXAMPLES random cases per operation (25 in `make test`, more in
`make fuzz`) and a fixed seed unless AUTHAPI_FUZZ_SEED says otherwise ("random" for a new one
each run; Schemathesis prints it with any failure, to reproduce).

One check is set aside, per response, where the contract cannot be written in JSON Schema:
`positive_data_acceptance` (schema-valid data must be accepted) for a 422 `weak_password` (the
password policy: common passwords, the account's own email, lengths after NFKC), for a 422
on the email alone when email-validator itself refuses the address (special-use domains such as
.test, which the schema's `format: email` cannot exclude), for a 400 `invalid_account_token` (a
lifecycle token or code that is not live), and for an OAuth endpoint's RFC 6749 refusal of the
grant or the client itself (`invalid_grant`, `invalid_client`, `unsupported_grant_type`: a
schema says which requests are well formed, not which refresh tokens, passwords or clients
exist; Schemathesis grants the same to a `tokenUrl`). Every other 422, and every
`invalid_request`, still fails it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from email_validator import EmailNotValidError, validate_email
from fastapi import FastAPI
from schemathesis.python import asgi
from starlette.types import ASGIApp, Receive, Scope, Send

from authapi.app import create_app
from authapi.config import Settings
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.http import SyncApiClient

pytestmark = [
    pytest.mark.fuzz,
    # Schemathesis fetches a case's auth while drawing it, and logging in reaches the rate
    # limiter's `random` (it sweeps stale buckets now and then): harmless, as Hypothesis seeds
    # `random` for the test anyway
    pytest.mark.filterwarnings(
        "ignore:Do not use the `random` module inside strategies"
        ":hypothesis.errors.HypothesisDeprecationWarning"
    ),
]

EXAMPLES = int(os.environ.get("AUTHAPI_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("AUTHAPI_FUZZ_SEED", "20261127")


class SessionSupply:
    """Fresh sessions of one real account: logout ends a session, so each caller gets its own.

    It logs in through an app of its own (same database, same key), on the test client's loop:
    the fuzzed app's connections belong to Schemathesis's.
    """

    def __init__(self, settings: Settings):
        self.api = SyncApiClient.asgi(create_app(settings))
        self.credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
        registered = self._post("/api/v1/auth/register", self.credentials)
        assert registered["user"]["email"] == self.credentials["email"]

    def _post(self, path: str, body: dict[str, str]) -> dict[str, Any]:
        reply = self.api.post(path, json=body)
        assert reply.status in (200, 201), reply
        result: dict[str, Any] = reply.body
        return result

    def fresh(self) -> dict[str, Any]:
        """A new session's token pair."""
        return self._post("/api/v1/auth/login", self.credentials)


class SocketPeer:
    """What a server on a socket gives the app: the peer's IP. Schemathesis's ASGI client says
    "testclient" there, and the app refuses a request it cannot tell the address of."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await self.app(scope, receive, send)


# Schemathesis builds auth providers itself, without arguments: this is how they find the supply
_supply: SessionSupply | None = None


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    """The app with the tests' settings (rate limits off), on Schemathesis's own event loop.

    Not the session's `app` fixture: its connection pool belongs to pytest-asyncio's loop.
    """
    global _supply
    app = create_app(settings)
    app.add_middleware(SocketPeer)
    _supply = SessionSupply(settings)
    yield app
    _supply.api.close()
    _supply = None
    # ends the app's lifespan, which closes its pool before the test database is dropped
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: FastAPI) -> Any:
    config: dict[str, Any] = {
        # no example database: a run replays nothing from an earlier one
        "generation": {"max-examples": EXAMPLES, "database": "none"},
    }
    if SEED != "random":
        config["seed"] = int(SEED)
    return schemathesis.openapi.from_asgi(
        "/openapi.json", fuzz_app, config=schemathesis.Config.from_dict(config)
    )


# The deprecated /api/auth/... aliases run the same endpoints as their /api/v1/ successors, with
# the same documented contract (tests/integration/test_api_versions.py holds them to it): fuzzing
# them too would double the time for nothing new
schema = schemathesis.pytest.from_fixture("api_schema").exclude(deprecated=True)


@pytest.fixture(autouse=True)
def _pytest_9_2_node_id(request: pytest.FixtureRequest) -> None:
    # Schemathesis 4.32's from_fixture() reads `Function._nodeid`, which pytest 9.2 renamed;
    # without it every run fails before the first request. Only its report labels use it.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid  # noqa: SLF001 - pytest's, for Schemathesis


@schema.auth(refresh_interval=None).apply_to(path=["/api/v1/auth/me", "/api/v1/auth/logout"])
class FreshBearerToken:
    """A new session's access token for every case: a logout case must not spoil the next."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        assert _supply is not None
        return str(_supply.fresh()["access_token"])

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


def _with_live_refresh_token(case: schemathesis.Case) -> None:
    """Half the schema-valid refresh cases present a live token, so the 200 is fuzzed too.

    Which half is decided by the generated token itself, so a replayed case does the same.
    """
    body = case.body
    token = body.get("refresh_token") if isinstance(body, dict) else None
    if (
        case.operation.path == "/api/v1/auth/refresh-token"
        and case.meta is not None
        and case.meta.generation.mode == schemathesis.GenerationMode.POSITIVE
        and isinstance(body, dict)
        and isinstance(token, str)
        and len(token) % 2 == 0
    ):
        assert _supply is not None
        case.body = {**body, "refresh_token": _supply.fresh()["refresh_token"]}


def _deliverable(address: object) -> bool:
    if not isinstance(address, str):
        return False
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# RFC 6749's refusals of what a request names, not of how it is written
_OAUTH_REFUSALS = frozenset({"invalid_grant", "invalid_client", "unsupported_grant_type"})


def _refused_by_a_rule_json_schema_cannot_state(
    case: schemathesis.Case, response: schemathesis.Response
) -> bool:
    if case.operation.path.startswith("/api/v1/oauth/") and response.status_code in (400, 401):
        return response.json().get("error") in _OAUTH_REFUSALS
    if response.status_code == 400:
        # a lifecycle token or code that is not live: whether one is cannot be in a schema
        # (as for credentials, which Schemathesis already allows)
        return bool(response.json().get("code") == "invalid_account_token")
    if response.status_code != 422:
        return False
    problem = response.json()
    if problem.get("code") == "weak_password":
        return True
    field = NEW_EMAIL_FIELDS.get(case.operation.path)
    if field is None or not isinstance(case.body, dict):
        return False
    blamed = {tuple(error["loc"]) for error in problem.get("errors", [])}
    return blamed == {("body", field)} and not _deliverable(case.body.get(field))


# where a new address is validated by email-validator beyond what `format: email` says
NEW_EMAIL_FIELDS = {"/api/v1/auth/register": "email", "/api/v1/auth/email/change": "new_email"}


@schema.parametrize()
def test_api(case: schemathesis.Case) -> None:
    _with_live_refresh_token(case)
    response = case.call()
    excluded = []
    if _refused_by_a_rule_json_schema_cannot_state(case, response):
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)
