"""Driver options: stateless connections, verified TLS, IAM tokens instead of passwords."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError
from sqlalchemy.pool import NullPool, QueuePool

from authapi.config import Settings
from authapi.db.engine import _connector, create_engine, driver_connect_args
from authapi.db.iam_auth import iam_token_provider

pytestmark = pytest.mark.unit

PROXY_URL = "postgresql://authapi@authapi.proxy-abc.us-east-1.rds.amazonaws.com:5432/authapi"


def test_no_server_side_prepares_and_no_startup_settings() -> None:
    args = driver_connect_args(Settings(database_url="postgresql://app@db/auth"))

    # None, not 0: 0 would prepare every statement at once (a named statement pins RDS Proxy)
    assert "prepare_threshold" in args
    assert args["prepare_threshold"] is None
    assert "options" not in args
    assert "sslmode" not in args
    assert "password" not in args


def test_timeouts_are_whole_seconds_to_connect_and_milliseconds_on_the_wire() -> None:
    args = driver_connect_args(
        Settings(
            database_url="postgresql://app@db/auth",
            db_connect_timeout_seconds=0.5,
            db_command_timeout_seconds=2.5,
        )
    )

    assert args["connect_timeout"] == 2  # libpq's floor: it reads 1 as 2
    assert args["tcp_user_timeout"] == 2500
    assert args["keepalives"] == 1


def test_tls_is_verified_when_required() -> None:
    args = driver_connect_args(
        Settings(database_url="postgresql://app@db/auth", db_require_tls=True)
    )

    assert args["sslmode"] == "verify-full"  # the chain and the host name
    cafile = ssl.get_default_verify_paths().cafile
    assert args["sslrootcert"] == (cafile if cafile and os.path.exists(cafile) else "system")


class _Dialect:
    """Enough of a SQLAlchemy dialect for do_connect: records what it was asked to connect with."""

    class loaded_dbapi:  # the attribute SQLAlchemy dialects have
        OperationalError = RuntimeError

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._error = error

    def connect(self, *_cargs: Any, **cparams: Any) -> str:
        self.calls.append(dict(cparams))
        if self._error is not None:
            raise self._error
        return "connection"


def test_tls_verifies_against_the_bundle_given_and_only_it(tmp_path: Path) -> None:
    # the RDS CA bundle of a deploy without the proxy: Aurora's certificates chain to it
    bundle = tmp_path / "rds-ca.pem"
    args = driver_connect_args(
        Settings(
            database_url="postgresql://app@db/auth", db_require_tls=True, db_tls_ca_file=bundle
        )
    )

    assert args["sslmode"] == "verify-full"
    assert args["sslrootcert"] == str(bundle)  # libpq trusts that file's CAs, nothing else


def test_iam_gives_a_fresh_signed_token_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    settings = Settings(
        database_url=PROXY_URL, db_auth="iam", db_require_tls=True, aws_region="us-east-1"
    )
    tokens = iter(["first-token", "second-token"])
    dialect = _Dialect()
    connect = _connector(lambda: next(tokens))

    for _ in range(2):
        connect(dialect, None, (), {"host": "proxy"})

    assert [call["password"] for call in dialect.calls] == ["first-token", "second-token"]

    token = iam_token_provider(settings)()
    host, _, query = token.partition("/?")
    assert host == "authapi.proxy-abc.us-east-1.rds.amazonaws.com:5432"
    params = parse_qs(query)
    assert params["Action"] == ["connect"]
    assert params["DBUser"] == ["authapi"]
    assert "X-Amz-Signature" in params
    assert urlsplit("https://" + token).hostname == "authapi.proxy-abc.us-east-1.rds.amazonaws.com"


def test_a_socket_error_on_connect_becomes_the_drivers_operational_error() -> None:
    connect = _connector(None)

    with pytest.raises(RuntimeError, match="cannot connect: ConnectionRefusedError"):
        connect(_Dialect(ConnectionRefusedError("refused")), None, (), {})


def test_the_engine_uses_psycopg() -> None:
    engine = create_engine(Settings(database_url="postgresql://app@db/auth"))

    assert engine.dialect.driver == "psycopg"


def test_iam_without_tls_is_refused() -> None:
    with pytest.raises(ValidationError, match="AUTHAPI_DB_REQUIRE_TLS"):
        Settings(database_url=PROXY_URL, db_auth="iam", aws_region="us-east-1")


def test_pool_modes() -> None:
    # replacing a connection the server closed is behaviour: tests/integration/db/test_engine.py
    pooled = create_engine(
        Settings(database_url="postgresql://app@db/auth", db_pool_size=1, db_max_overflow=0)
    )
    unpooled = create_engine(Settings(database_url="postgresql://app@db/auth", db_pool_mode="null"))

    assert isinstance(pooled.pool, QueuePool)
    assert pooled.pool.size() == 1
    assert isinstance(unpooled.pool, NullPool)
