"""Audit events still to publish on EventBridge: one row per event, written in the same
statement as its audit row, deleted once EventBridge has taken it (authapi.audit.publisher).

A separate table rather than a flag on audit_events: the audit row never changes, and the
publisher needs to find the unpublished ones without scanning the whole trail.
"""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import tenant_id_column


class EventOutbox(Base):
    __tablename__ = "event_outbox"

    # the audit event's id (no foreign key: the trail's retention purge must not wait on it)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # migration 0014: the tenant whose event it is (published with it)
    tenant_id: Mapped[str] = tenant_id_column()
    # indexed: the publisher takes the oldest first
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
