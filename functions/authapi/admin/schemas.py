"""The admin API's request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from authapi.admin.repository import UserRow
from authapi.auth.mfa_schemas import StepUpRequest


class AdminTokenRequest(StepUpRequest):
    """A second factor given now: `code` (the authenticator's current code, never one already
    accepted) or `recovery_code` (spent by this request)."""


class AdminTokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the admin token expires (at most 900).")


class AdminUserOut(BaseModel):
    id: uuid.UUID
    email: str
    status: Literal["active", "disabled", "unverified"] = Field(
        description="`disabled`: cannot sign in; `unverified`: active, address not confirmed; "
        "`active`: active with a confirmed address."
    )
    is_active: bool
    email_verified: bool
    role: Literal["user", "admin"]
    mfa_enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: UserRow) -> AdminUserOut:
        return cls.model_validate(
            {
                "id": row.id,
                "email": row.email,
                "status": row.status,
                "is_active": row.is_active,
                "email_verified": row.email_verified_at is not None,
                "role": row.role,
                "mfa_enabled": row.mfa_enabled,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            }
        )


class AdminUsersOut(BaseModel):
    users: list[AdminUserOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page; none: no more."
    )
