"""Uvicorn on the real app, on the embedded PostgreSQL unless AUTHAPI_DATABASE_URL is set.

Usage: python -m devtools.serve [--reload]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import uvicorn

from devtools.embedded_postgres import DATABASE_URL, local_database

HOST, PORT = "127.0.0.1", 8000
# How uvicorn must serve this app. The per-IP limits and the access log count a client by the
# socket peer (authapi.client_address); uvicorn's default proxy_headers=True replaces that peer
# with the client-written X-Forwarded-For of any peer in --forwarded-allow-ips (127.0.0.1 by
# default), so any local client could name its own IP and escape every limit. Behind a reverse
# proxy of your own, turn them on with --forwarded-allow-ips set to that proxy's address only.
SERVER_OPTIONS: dict[str, Any] = {
    "proxy_headers": False,
    "log_config": None,  # our logging (structured, redacted) handles uvicorn's records too
    "access_log": False,  # the app logs each request itself, without query strings
}


def ensure_database() -> None:
    """Point AUTHAPI_DATABASE_URL at a database, starting the embedded server if none is set."""
    database = local_database("authapi")
    os.environ[DATABASE_URL] = database.url
    print(f"database: {database.description}")


def migrate() -> None:
    from devtools.embedded_postgres import migrate_database

    revisions = asyncio.run(migrate_database(os.environ["AUTHAPI_DATABASE_URL"]))
    print(f"database migrated to {', '.join(revisions)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reload", action="store_true", help="restart on code changes")
    args = parser.parse_args()
    ensure_database()
    migrate()
    print(f"authapi on http://{HOST}:{PORT}  (docs: http://{HOST}:{PORT}/docs)")
    uvicorn.run(
        "authapi.app:create_app",
        factory=True,
        host=HOST,
        port=PORT,
        reload=args.reload,
        reload_dirs=["functions"] if args.reload else None,
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main()
