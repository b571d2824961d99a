"""One login: the chain of refresh tokens it issues, and whether it has been revoked."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, Uuid, func, text
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import owned_by, tenant_id_column, tenant_key


class AuthSession(Base):
    __tablename__ = "auth_sessions"
    # the maintenance run finds ended sessions by these (revoked ones are the few)
    __table_args__ = (
        Index(
            "ix_auth_sessions_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
        ),
        tenant_key("auth_sessions"),
        owned_by("auth_sessions", "user_id", "users"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[str] = tenant_id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # absolute lifetime: rotation extends refresh tokens, never the session itself
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # what the sessions API shows (migration 0007; NULL for sessions older than it): the
    # User-Agent as sent (truncated) and the trusted client address of the sign-in, and the last
    # refresh
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the OAuth client that opened the session (migration 0008); NULL: from before it, when the
    # JSON API was the only client, so the default client (AUTHAPI_DEFAULT_CLIENT_ID)
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # how the session was authenticated (migration 0011): RFC 8176 `amr` values, space-separated;
    # NULL: a password alone. `mfa_at`: when a second factor last proved itself in it (step-up)
    amr: Mapped[str | None] = mapped_column(String(64), default=None)
    mfa_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
