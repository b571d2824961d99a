"""Failed logins per account, and how long the account refuses further attempts."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttles"

    # SHA-256 of the normalized email, whether or not an account has it: unknown emails are
    # throttled exactly like real ones, so a 429 says nothing about who is registered
    account_key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
