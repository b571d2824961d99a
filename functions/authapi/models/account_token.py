"""A single-use token (and, for verification, a 6-digit code) a lifecycle mail carries.

Minted by the mailer when it sends the message (never by the request: the outbox holds no
secret), one per outbox row. Only hashes are stored: the token's SHA-256 (256 random bits), the
code's HMAC under the data keys (a million codes are tried in no time without the key).
`binding` is the SHA-256 of the account's password hash and email when it was minted: a
password or email change by any route makes it differ, and the token dies.
"""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import (
    lookup_without_tenant,
    owned_by,
    tenant_id_column,
    tenant_unique,
)


class AccountToken(Base):
    __tablename__ = "account_tokens"
    __table_args__ = (
        Index("ix_account_tokens_account_id", "account_id", "purpose"),
        tenant_unique("account_tokens", "outbox_id"),
        lookup_without_tenant("account_tokens", "outbox_id"),
        tenant_unique("account_tokens", "token_hash"),
        lookup_without_tenant("account_tokens", "token_hash"),
        owned_by("account_tokens", "account_id", "users"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = tenant_id_column()
    outbox_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # the message that carried it
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    purpose: Mapped[str] = mapped_column(String(40))  # email_verification, password_reset, ...
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    code_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    code_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    new_email: Mapped[str | None] = mapped_column(String(320), default=None)  # email change
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
