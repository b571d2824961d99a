"""One claimed outbox row, as a kind's context and the templates see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from authapi.config import Settings
from authapi.signing.keys import DataKeys


@dataclass(frozen=True)
class MailJob:
    """One claimed outbox row, with whom it goes to."""

    outbox_id: uuid.UUID
    kind: str
    purpose: str
    account_id: uuid.UUID | None
    email: str
    now: datetime
    settings: Settings
    data_keys: DataKeys | None = None
