"""`make mail-test EMAIL=...`: the whole mail path with no flow behind it.

Writes a "test message" outbox row for the account with that email in the local database (as a
flow would, in one statement), then hands it to the local cloud's mail queue; the mailer sends
it and it shows in the local mailbox (http://127.0.0.1:8025). Without a running `make run`, the
row waits: the next local cloud's maintenance run hands it over.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from sqlalchemy import select

from devtools.embedded_postgres import local_database
from devtools.local_mail import client


async def enqueue_test_message(database_url: str, email: str) -> str | None:
    from authapi.clock import SystemClock
    from authapi.config import Settings
    from authapi.db.engine import Database
    from authapi.db.session import unit_of_work
    from authapi.models import User
    from authapi.outbox.messages import TEST_MESSAGE, OutboxMessage, enqueue

    database = Database(Settings(database_url=database_url, environment="development"))
    try:
        async with unit_of_work(database) as db:
            account_id = await db.scalar(select(User.id).where(User.email == email.lower()))
            if account_id is None:
                return None
            message = OutboxMessage(kind=TEST_MESSAGE, purpose=TEST_MESSAGE)
            await db.execute(enqueue(message, now=SystemClock().now(), account_id=account_id))
        return str(message.id)
    finally:
        await database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email", help="a registered account's email")
    args = parser.parse_args()
    from devtools.local_cloud import STATE_FILE

    url = os.environ.get("AUTHAPI_DATABASE_URL") or local_database("authapi").url
    outbox_id = asyncio.run(enqueue_test_message(url, args.email))
    if outbox_id is None:
        print(f"no account has the email {args.email!r}: register it first", file=sys.stderr)
        return 1
    if not STATE_FILE.exists():
        print(f"outbox row {outbox_id} written; start `make run` and it will be sent")
        return 0
    state = json.loads(STATE_FILE.read_text())
    sqs = client("sqs", state["aws_endpoint"])
    try:
        sqs.send_message(
            QueueUrl=state["mail_queue_url"], MessageBody=json.dumps({"outbox_id": outbox_id})
        )
    except Exception as error:  # the local cloud stopped: the next one re-queues the row
        print(f"outbox row {outbox_id} written; the mail queue did not answer ({error})")
        return 0
    print(f"outbox row {outbox_id} queued: see http://127.0.0.1:8025")
    return 0


if __name__ == "__main__":
    sys.exit(main())
