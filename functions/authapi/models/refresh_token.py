"""One refresh token of a session. Only its SHA-256 is stored; the token itself never is."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import (
    lookup_without_tenant,
    owned_by,
    tenant_id_column,
    tenant_unique,
)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        tenant_unique("refresh_tokens", "token_hash"),
        lookup_without_tenant("refresh_tokens", "token_hash"),
        owned_by("refresh_tokens", "session_id", "auth_sessions"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = tenant_id_column()
    session_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set once, when the token is exchanged; presenting it again is reuse
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the data key this token was derived with from its predecessor (auth/tokens.py); NULL for
    # a session's first token, which is random, and for tokens older than migration 0007
    key_id: Mapped[str | None] = mapped_column(String(64), default=None)
