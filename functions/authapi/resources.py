"""What the app holds for its lifetime: settings, database, hashing, keys. One per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from authapi.auth.keys import KeyProvider, key_provider_for
from authapi.auth.passwords import PasswordHashing
from authapi.config import Settings
from authapi.db.engine import Database


@dataclass
class Resources:
    settings: Settings
    database: Database
    hashing: PasswordHashing
    key_provider: KeyProvider

    @classmethod
    def from_settings(
        cls, settings: Settings, *, key_provider: KeyProvider | None = None
    ) -> Resources:
        return cls(
            settings=settings,
            database=Database(settings),
            hashing=PasswordHashing.from_settings(settings),
            key_provider=key_provider or key_provider_for(settings),
        )


def app_resources(app: Starlette) -> Resources:
    return cast(Resources, app.state.resources)


def get_resources(connection: HTTPConnection) -> Resources:
    return app_resources(connection.app)
