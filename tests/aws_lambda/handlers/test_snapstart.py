"""SnapStart's runtime hooks on a real execution environment: its connection, its SSM keys.

Lambda calls the hooks itself (before the snapshot, after each restore); here the tests call
them between invocations, where the runtime would.
"""

from __future__ import annotations

import random
import sys
from typing import TYPE_CHECKING

import jwt
import pytest
import snapshot_restore_py
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from authapi.handlers.lambda_app import LambdaApp
from authapi.handlers.snapstart import after_restore, before_snapshot, register_snapstart_hooks
from authapi.key_material import generate_private_key_pem, load_private_key
from authapi.middleware.deferred_routes import DeferredRoutes
from authapi.resources import app_resources
from authapi.signing.keys import KeyRing, key_id
from tests.support.accounts import register
from tests.support.aws import MakeLambda, load_event, put_keys
from tests.support.db import ScratchDatabase
from tests.support.http import SyncApiClient

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _key_id_of(pem: str) -> str:
    return key_id(load_private_key(pem).public_key())


def _holds_keys(lambda_app: LambdaApp, pem: str) -> bool:
    """Whether the key provider keeps a key ring, or the PEM it was parsed from."""
    held = vars(app_resources(lambda_app.app).key_provider).values()
    return any(isinstance(value, KeyRing) or pem in str(value) for value in held)


def test_the_init_snapshotted_holds_no_key_and_no_connection(
    ssm: SSMClient, make_lambda: MakeLambda, test_database: ScratchDatabase
) -> None:
    pem = generate_private_key_pem()
    put_keys(ssm, pem)
    connects: list[object] = []

    def count_connect(dbapi_connection: object, _record: object) -> None:
        connects.append(dbapi_connection)

    sa_event.listen(Engine, "connect", count_connect)
    try:
        lambda_app = make_lambda(
            test_database
        )  # the init: what Lambda would snapshot (hooks aside)
    finally:
        sa_event.remove(Engine, "connect", count_connect)

    assert connects == []
    assert not _holds_keys(lambda_app, pem)


def test_before_snapshot_closes_the_connection_and_forgets_the_keys(
    ssm: SSMClient, make_lambda: MakeLambda
) -> None:
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_keys(ssm, old_pem)
    lambda_app = make_lambda()
    api = SyncApiClient.aws_lambda(lambda_app)
    warmed = register(api)  # what an init that warmed up would hold: a connection, the keys
    assert _holds_keys(lambda_app, old_pem)
    pool = app_resources(lambda_app.app).database.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() == 1
    closed: list[object] = []
    sa_event.listen(
        pool, "close", lambda dbapi_connection, _record: closed.append(dbapi_connection)
    )

    assert any(isinstance(route, DeferredRoutes) for route in lambda_app.app.router.routes)

    before_snapshot(lambda_app)

    assert len(closed) == 1
    # the deferred routers are in the snapshot: no restored copy imports them on a request
    assert not any(isinstance(route, DeferredRoutes) for route in lambda_app.app.router.routes)
    assert not _holds_keys(lambda_app, old_pem)
    # the key rotated while the snapshot sat in the cache: the restored copy signs with the new
    # one at once, not after the cache age, and still connects
    put_keys(ssm, new_pem)
    restored = register(api)
    assert _kid(restored.access_token) == _key_id_of(new_pem)
    assert _kid(warmed.access_token) == _key_id_of(old_pem)


def test_after_restore_reseeds_random_and_forgets_the_keys(
    ssm: SSMClient, make_lambda: MakeLambda
) -> None:
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_keys(ssm, old_pem)
    lambda_app = make_lambda()
    api = SyncApiClient.aws_lambda(lambda_app)
    jwks = api.send_event(load_event("jwks.json"))
    assert jwks.status == 200
    put_keys(ssm, new_pem)

    random.seed(20261203)  # the state every copy of one snapshot would share
    shared = [random.random() for _ in range(4)]
    random.seed(20261203)
    after_restore(lambda_app)
    mine = [random.random() for _ in range(4)]

    assert mine != shared
    assert not _holds_keys(lambda_app, old_pem)
    kids = {key["kid"] for key in api.send_event(load_event("jwks.json")).body["keys"]}
    assert _key_id_of(new_pem) in kids


def test_the_hooks_are_registered_with_the_runtime(make_lambda: MakeLambda) -> None:
    lambda_app = make_lambda()
    before, after = (
        snapshot_restore_py.get_before_snapshot(),
        snapshot_restore_py.get_after_restore(),
    )
    already = len(before), len(after)
    try:
        assert register_snapstart_hooks(lambda_app) is True
        assert before[already[0] :] == [(before_snapshot, (lambda_app,), {})]
        assert after[already[1] :] == [(after_restore, (lambda_app,), {})]
    finally:
        del before[already[0] :], after[already[1] :]


def test_without_the_library_nothing_is_registered(
    make_lambda: MakeLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # `import` now fails
    registered = len(snapshot_restore_py.get_before_snapshot())

    assert register_snapstart_hooks(make_lambda()) is False
    assert len(snapshot_restore_py.get_before_snapshot()) == registered
