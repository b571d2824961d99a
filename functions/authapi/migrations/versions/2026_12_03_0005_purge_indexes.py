"""Indexes for the maintenance run's purges: sessions by expiry and revocation, throttles by window.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_auth_sessions_expires_at"), "auth_sessions", ["expires_at"])
    op.create_index(
        op.f("ix_auth_sessions_revoked_at"),
        "auth_sessions",
        ["revoked_at"],
        postgresql_where=sa.text("revoked_at IS NOT NULL"),
    )
    # an attack spraying many (account, client) pairs grows this table: purge it by window
    op.create_index(
        op.f("ix_login_throttles_window_started_at"), "login_throttles", ["window_started_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_login_throttles_window_started_at"), table_name="login_throttles")
    op.drop_index(op.f("ix_auth_sessions_revoked_at"), table_name="auth_sessions")
    op.drop_index(op.f("ix_auth_sessions_expires_at"), table_name="auth_sessions")
