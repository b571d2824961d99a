"""Driver options: stateless connections, verified TLS, IAM tokens instead of passwords."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError
from sqlalchemy.pool import NullPool, QueuePool

from authapi.config import Settings
from authapi.db.engine import asyncpg_connect_args, create_engine

pytestmark = pytest.mark.unit

PROXY_URL = "postgresql://authapi@authapi.proxy-abc.us-east-1.rds.amazonaws.com:5432/authapi"


def test_no_prepared_statement_caches_and_no_startup_settings() -> None:
    args = asyncpg_connect_args(Settings(database_url="postgresql://app@db/auth"))

    assert args["statement_cache_size"] == 0
    assert args["prepared_statement_cache_size"] == 0
    assert "server_settings" not in args
    assert "ssl" not in args
    assert "password" not in args


def test_tls_is_verified_when_required() -> None:
    args = asyncpg_connect_args(
        Settings(database_url="postgresql://app@db/auth", db_require_tls=True)
    )

    context = args["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_tls_verifies_against_the_bundle_given_and_only_it(tmp_path: Path) -> None:
    # the RDS CA bundle of a deploy without the proxy: Aurora's certificates chain to it
    from authapi.key_material import generate_private_key_pem

    bundle = tmp_path / "rds-ca.pem"
    bundle.write_text(_self_signed_ca_pem(generate_private_key_pem()))
    args = asyncpg_connect_args(
        Settings(
            database_url="postgresql://app@db/auth", db_require_tls=True, db_tls_ca_file=bundle
        )
    )

    context = args["ssl"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "test rds ca"),),)]


def _self_signed_ca_pem(key_pem: str) -> str:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test rds ca")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_iam_gives_a_fresh_signed_token_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    settings = Settings(
        database_url=PROXY_URL, db_auth="iam", db_require_tls=True, aws_region="us-east-1"
    )

    password = asyncpg_connect_args(settings)["password"]
    token = password()

    host, _, query = token.partition("/?")
    assert host == "authapi.proxy-abc.us-east-1.rds.amazonaws.com:5432"
    params = parse_qs(query)
    assert params["Action"] == ["connect"]
    assert params["DBUser"] == ["authapi"]
    assert "X-Amz-Signature" in params
    assert urlsplit("https://" + token).hostname == "authapi.proxy-abc.us-east-1.rds.amazonaws.com"


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
