"""One refresh token of a session. Only its SHA-256 is stored; the token itself never is."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set once, when the token is exchanged; presenting it again is reuse
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the data key this token was derived with from its predecessor (auth/tokens.py); NULL for
    # a session's first token, which is random, and for tokens older than migration 0007
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)
