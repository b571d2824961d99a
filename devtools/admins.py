"""`make admin-create EMAIL=`: make an account an administrator (issue 17). An existing account
gets the admin role; a missing one is created first, with a password read from the prompt (or
stdin when it is not a terminal). Records admin.role_granted (actor: the service). Runs against
AUTHAPI_DATABASE_URL, else the local embedded database. The account still needs a second factor
before it gets an admin token, and sends a current code of it for each one (docs/admin.md)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable

from devtools.embedded_postgres import local_database

LOCAL_DATABASE = "authapi"


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password for the new account: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


async def _admin_create(url: str, email: str, password: Callable[[], str]) -> str:
    from authapi.admin.bootstrap import create_admin, grant_admin
    from authapi.clock import SystemClock
    from authapi.config import Settings
    from authapi.db.engine import Database
    from authapi.db.session import unit_of_work
    from authapi.passwords import PasswordHashing

    settings = Settings(environment="development", database_url=url)
    database = Database(settings)
    now = SystemClock().now()
    try:
        async with unit_of_work(database) as db:
            if await grant_admin(db, email=email, now=now) is not None:
                return f"{email}: granted the admin role"
        async with unit_of_work(database) as db:
            await create_admin(
                db,
                settings=settings,
                hashing=PasswordHashing.from_settings(settings),
                email=email,
                password=password(),
                now=now,
            )
        return f"{email}: account created with the admin role"
    finally:
        await database.dispose()


def main(argv: list[str] | None = None, *, password: Callable[[], str] = read_password) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    args = parser.parse_args(argv)
    from authapi.exceptions import WeakPasswordError

    database = local_database(LOCAL_DATABASE)
    try:
        print(asyncio.run(_admin_create(database.url, args.email, password)))
    except WeakPasswordError as error:
        print(f"password refused: {error.detail}", file=sys.stderr)
        return 1
    print(
        "next: enrol an authenticator (MFA) on this account, then POST /api/v1/admin/token "
        'with its current code ({"code": "123456"}) for each admin token'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
