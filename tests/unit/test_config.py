"""Settings: parsing and the production refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from authapi.config import Settings
from authapi.key_material import generate_data_key_entry, generate_private_key_pem

pytestmark = pytest.mark.unit

DB = "postgresql://app@db.internal/auth"


def test_defaults_follow_the_seed() -> None:
    settings = Settings(_env_file=None)
    assert settings.environment == "development"
    assert settings.access_token_ttl_seconds == 30 * 60
    assert settings.refresh_token_ttl_seconds == 7 * 24 * 3600
    assert (
        settings.argon2_memory_cost_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
    ) == (19456, 2, 1)
    assert settings.max_body_bytes == 64 * 1024
    assert settings.docs_enabled


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHAPI_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("AUTHAPI_ACCESS_TOKEN_TTL_SECONDS", "600")
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", DB)

    settings = Settings()

    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.access_token_ttl_seconds == 600
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://app@db.internal/auth"


def test_database_url_is_not_printed() -> None:
    settings = Settings(database_url="postgresql://app:hunter2hunter2@db/auth")
    assert "hunter2hunter2" not in repr(settings)
    assert "hunter2hunter2" not in str(settings.model_dump())


def test_other_database_schemes_are_refused() -> None:
    with pytest.raises(ValidationError, match="AUTHAPI_DATABASE_URL"):
        Settings(database_url="mysql://app@db/auth")


def test_production_refuses_missing_settings_and_names_them() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(environment="production", allowed_origins=["*"])
    message = str(error.value)
    assert "AUTHAPI_DATABASE_URL" in message
    assert "AUTHAPI_JWT_PRIVATE_KEY" in message
    assert "AUTHAPI_ALLOWED_ORIGINS" in message


def test_production_refuses_a_weak_key() -> None:
    with pytest.raises(ValidationError, match="1024 bits"):
        Settings(
            environment="production",
            database_url=DB,
            jwt_private_key=generate_private_key_pem(1024),
        )


def test_production_refuses_a_key_that_is_not_a_key() -> None:
    with pytest.raises(ValidationError, match="AUTHAPI_JWT_PRIVATE_KEY is unusable") as error:
        Settings(environment="production", database_url=DB, jwt_private_key="secret-but-not-a-pem")
    assert "secret-but-not-a-pem" not in str(error.value)


def test_production_accepts_a_complete_configuration() -> None:
    settings = Settings(
        environment="production",
        database_url=DB,
        jwt_private_key=generate_private_key_pem(),
        data_keys=generate_data_key_entry(),
        allowed_origins=["https://app.example"],
        trusted_hosts="*.execute-api.eu-west-3.amazonaws.com,",
    )
    assert settings.trusted_hosts == ["*.execute-api.eu-west-3.amazonaws.com"]
    assert not settings.docs_enabled
    assert settings.effective_log_format == "json"


@pytest.mark.parametrize("hosts", [[], ["*"]])
def test_production_requires_trusted_hosts(hosts: list[str]) -> None:
    # without them the Host header is the client's to choose, in every URL the app builds
    with pytest.raises(ValidationError, match="AUTHAPI_TRUSTED_HOSTS"):
        Settings(
            environment="production",
            database_url=DB,
            jwt_private_key=generate_private_key_pem(),
            data_keys=generate_data_key_entry(),
            trusted_hosts=hosts,
        )


def test_session_must_outlive_its_refresh_tokens() -> None:
    with pytest.raises(ValidationError, match="AUTHAPI_SESSION_MAX_AGE_SECONDS"):
        Settings(refresh_token_ttl_seconds=7200, session_max_age_seconds=3600)


def test_production_needs_data_keys_and_refuses_weak_ones_without_echoing_them() -> None:
    with pytest.raises(ValidationError, match="AUTHAPI_DATA_KEYS or AUTHAPI_SSM_PARAMETER_PREFIX"):
        Settings(
            environment="production", database_url=DB, jwt_private_key=generate_private_key_pem()
        )
    short = "k1:c2hvcnQta2V5LW9ubHk"  # 14 bytes
    with pytest.raises(ValidationError, match="at least 32") as error:
        Settings(
            environment="production",
            database_url=DB,
            jwt_private_key=generate_private_key_pem(),
            data_keys=short,
        )
    assert "c2hvcnQta2V5LW9ubHk" not in str(error.value)


def test_totp_drift_is_at_most_one_step_either_side() -> None:
    # issue 14: "accept at most one step of drift either side"; 0 (exact step only) is allowed
    assert Settings(_env_file=None, mfa_totp_drift_steps=0).mfa_totp_drift_steps == 0
    assert Settings(_env_file=None, mfa_totp_drift_steps=1).mfa_totp_drift_steps == 1
    with pytest.raises(ValidationError, match="mfa_totp_drift_steps"):
        Settings(_env_file=None, mfa_totp_drift_steps=2)
