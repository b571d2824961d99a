"""A second factor (TOTP), its recovery codes, and the challenges a password sign-in opens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base


def _user() -> ForeignKey:
    return ForeignKey("users.id", ondelete="CASCADE")


class MfaFactor(Base):
    """One TOTP authenticator per account; active once a code proved it (`activated_at`)."""

    __tablename__ = "mfa_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, _user(), primary_key=True)
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

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, _user(), primary_key=True)
    code_hmac: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class MfaChallenge(Base):
    """What a correct password of an MFA account opens: single-use, short-lived, at most a few
    codes; the token itself is never stored, only its SHA-256."""

    __tablename__ = "mfa_challenges"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, _user(), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256), default=None)
    ip: Mapped[str | None] = mapped_column(String(45), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
