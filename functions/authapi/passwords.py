"""Password hashing with argon2id. Hashing is CPU-bound, so it runs off the event loop."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.concurrency import run_in_threadpool

from authapi.config import Settings


def normalize_password(password: str) -> str:
    """NFKC, as NIST SP 800-63B advises, so one password typed two Unicode ways is one password."""
    return unicodedata.normalize("NFKC", password)


@dataclass
class PasswordHashing:
    """argon2id with the configured cost, and a dummy hash for constant-time failures."""

    hasher: PasswordHasher
    _dummy_hash: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHashing:
        return cls(
            PasswordHasher(
                time_cost=settings.argon2_time_cost,
                memory_cost=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
                type=Type.ID,
            )
        )

    async def hash(self, password: str) -> str:
        return await run_in_threadpool(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await run_in_threadpool(self._verify_sync, password_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one real verify, for callers with no hash to check against."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
