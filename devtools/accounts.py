"""`make account-disable EMAIL=` / `make account-enable EMAIL=`: the operator's switch until the
admin API exists. Runs against AUTHAPI_DATABASE_URL, else the local embedded database."""

from __future__ import annotations

import argparse
import asyncio
import sys

from devtools.embedded_postgres import local_database

LOCAL_DATABASE = "authapi"


async def _set_active(url: str, email: str, *, active: bool) -> bool:
    from authapi.auth.accounts import set_account_active
    from authapi.clock import SystemClock
    from authapi.config import Settings
    from authapi.db.engine import Database
    from authapi.db.session import unit_of_work

    database = Database(Settings(environment="development", database_url=url))
    try:
        async with unit_of_work(database) as db:
            found = await set_account_active(
                db, email=email.strip().lower(), active=active, now=SystemClock().now()
            )
    finally:
        await database.dispose()
    return found is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["disable", "enable"])
    parser.add_argument("email")
    args = parser.parse_args(argv)
    database = local_database(LOCAL_DATABASE)
    found = asyncio.run(_set_active(database.url, args.email, active=args.action == "enable"))
    if not found:
        print(f"no account has the email {args.email}", file=sys.stderr)
        return 1
    sessions = "; every session ended" if args.action == "disable" else ""
    print(f"{args.email}: {args.action}d{sessions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
