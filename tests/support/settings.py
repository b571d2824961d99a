"""The settings every tier starts from; each test changes only what it tests."""

from __future__ import annotations

from authapi.config import Settings
from authapi.key_material import generate_data_key_entry
from tests.support.db import ScratchDatabase

# every test request comes from one address: the abuse tests set their own limits
UNLIMITED = {
    "rate_limit_login": 1_000_000,
    "rate_limit_register": 1_000_000,
    "rate_limit_refresh": 1_000_000,
    "rate_limit_revoke": 1_000_000,
    "rate_limit_introspect": 1_000_000,
    "login_max_failures": 1_000_000,
    "login_account_max_failures": 1_000_000,
}
SESSION_DATA_KEYS = generate_data_key_entry()
# what a Lambda execution environment has (template.yaml): one connection, nothing to overflow to
ONE_CONNECTION = {"db_pool_size": 1, "db_max_overflow": 0}


def make_settings(
    database: ScratchDatabase, signing_key_pem: str | None, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database.url,
        "db_role_prefix": database.role_prefix,
        "jwt_private_key": signing_key_pem,
        # one deployment: every app of the session keys its hashes alike, as Lambda's
        # environments all read the same data keys from SSM
        "data_keys": SESSION_DATA_KEYS,
        **UNLIMITED,
        **overrides,
    }
    return Settings.model_validate(values)
