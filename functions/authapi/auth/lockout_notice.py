"""The lockout notice (abuse issue; issue 13): mail to the account's owner when repeated failed
sign-ins lock an (account, client network) pair; at most one per account per 24 hours.

Its outbox row is written by the very statement that counts the attempt which set the lock
(a CTE reading that count), so it costs no round trip. It is not notified to the queue from the
request: a queue call on that path only for registered addresses would time how long the 5th
wrong password takes, and tell who has an account. The maintenance run (every minute) hands it
over once it is `mail_requeue_after_seconds` old: a notice minutes later is soon enough.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import CTE, select

from authapi.abuse.login_throttle import AttemptCount
from authapi.config import Settings
from authapi.models import MailOutbox, User
from authapi.outbox.messages import LOCKOUT_NOTICE, OutboxMessage, enqueue_for_account

NOTICE_INTERVAL = timedelta(hours=24)


def lockout_notice(
    settings: Settings, *, email: str, now: datetime
) -> Callable[[AttemptCount], CTE]:
    """The notice's write, for `record_login_attempt(notice=...)`: enqueued only when this
    attempt's count reached the lock, for a registered address, if none was sent in 24 h."""
    message = OutboxMessage(kind=LOCKOUT_NOTICE, purpose=LOCKOUT_NOTICE)

    def cte(attempt: AttemptCount) -> CTE:
        account_id = select(User.id).where(User.email == email).scalar_subquery()
        failures = select(attempt.account_client.c.failures).scalar_subquery()
        return (
            enqueue_for_account(
                message,
                now=now,
                account_id=account_id,
                when=(failures >= settings.login_max_failures) & account_id.is_not(None),
                at_most_once_since=now - NOTICE_INTERVAL,
            )
            .returning(MailOutbox.id)
            .cte("lockout_notice")
        )

    return cte
