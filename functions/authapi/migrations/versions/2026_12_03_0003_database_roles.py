"""Database roles: <prefix>_app (rows only) and <prefix>_migrator (the schema).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import context, op

from authapi.migrations.roles import roles_sql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(roles_sql(context.config.attributes["role_prefix"]))


def downgrade() -> None:
    # roles are the server's and may serve other databases: they are left in place
    pass
