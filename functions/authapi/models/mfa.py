"""A second factor (TOTP), its recovery codes, and the challenges a password sign-in opens."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base
from authapi.models.tenancy import owned_by, tenant_id_column


class MfaFactor(Base):
    """One TOTP authenticator per account; active once a code proved it (`activated_at`)."""

    __tablename__ = "mfa_factors"
    __table_args__ = (owned_by("mfa_factors", "user_id", "users"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant_id: Mapped[str] = tenant_id_column()
    # the TOTP secret sealed under a data key (signing/sealing.py): the database alone cannot
    # read it
    key_id: Mapped[str] = mapped_column(String(64))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the last accepted time step: a code is never accepted twice (RFC 6238 section 5.2)
    last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)


class MfaRecoveryCode(Base):
    """A single-use recovery code, stored only as its HMAC under a data key."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (owned_by("mfa_recovery_codes", "user_id", "users"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    tenant_id: Mapped[str] = tenant_id_column()
    code_hmac: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MfaChallenge(Base):
    """What a correct password of an MFA account opens: single-use, short-lived, at most a few
    codes; the token itself is never stored, only its SHA-256."""

    __tablename__ = "mfa_challenges"
    __table_args__ = (owned_by("mfa_challenges", "user_id", "users"),)

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    tenant_id: Mapped[str] = tenant_id_column()
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
