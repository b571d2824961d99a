"""Accounts the tests register, and the one way to register one, through either client face."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, overload

import jwt

from tests.support.http import ApiClient, Reply, SyncApiClient

STRONG_PASSWORD = "correct horse battery staple"
REGISTER = "/api/auth/register"


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:16]}@example.com"


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    user_id: str
    access_token: str
    refresh_token: str

    @classmethod
    def registered(cls, reply: Reply, *, password: str) -> Account:
        """The account a 201 from register describes."""
        assert reply.status == 201, reply
        body = reply.body
        return cls(
            email=body["user"]["email"],
            password=password,
            user_id=body["user"]["id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def credentials(self) -> dict[str, str]:
        """The login body that opens another session of this account."""
        return {"email": self.email, "password": self.password}

    @property
    def session_id(self) -> uuid.UUID:
        """The session registering opened (the access token's `sid`)."""
        claims = jwt.decode(self.access_token, options={"verify_signature": False})
        return uuid.UUID(claims["sid"])


@overload
def register(
    client: ApiClient, email: str | None = None, password: str = STRONG_PASSWORD
) -> Coroutine[Any, Any, Account]: ...


@overload
def register(
    client: SyncApiClient, email: str | None = None, password: str = STRONG_PASSWORD
) -> Account: ...


def register(
    client: ApiClient | SyncApiClient, email: str | None = None, password: str = STRONG_PASSWORD
) -> Account | Coroutine[Any, Any, Account]:
    """Register a new account: `await register(client)`, or `register(api)` on the sync face."""
    body = {"email": email or unique_email(), "password": password}
    if isinstance(client, SyncApiClient):
        return Account.registered(client.post(REGISTER, json=body), password=password)

    async def registered() -> Account:
        return Account.registered(await client.post(REGISTER, json=body), password=password)

    return registered()
