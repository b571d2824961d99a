"""A tenant (realm): owns its users, sessions, settings and keys (authapi.tenant_scope).

The primary key is the tenant's slug: it appears in paths (`/t/{tenant}/...`), in its issuer
URL and in its keys' SSM path, so it never changes once created.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from authapi.db.base import Base


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("id ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name="id_slug"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # validated by authapi.tenants.settings; {} means the deployment's settings
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
