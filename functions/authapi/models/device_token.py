"""A device a user signed in from: its token exempts that device from the account-wide login
slow-down a stranger's failures can cause. Only the token's SHA-256 is stored."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import owned_by, tenant_id_column


class DeviceToken(Base):
    __tablename__ = "device_tokens"
    __table_args__ = (owned_by("device_tokens", "user_id", "users"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tenant_id: Mapped[str] = tenant_id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
