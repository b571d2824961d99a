"""The circuit breaker around the mail provider, shared by every mailer environment."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base


class MailCircuit(Base):
    __tablename__ = "mail_circuits"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # "ses"
    # consecutive transient failures; a success puts it back to 0
    failures: Mapped[int] = mapped_column(Integer)
    # while in the future, no mailer calls the provider: messages stay queued
    open_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
