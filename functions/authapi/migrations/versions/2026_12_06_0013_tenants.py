"""tenants (issue 17: multi-tenancy), with its one row for the default tenant.

Expand only: a new table the previous release never reads. A tenant (realm) owns its users,
sessions, settings and keys; the default tenant, `default`, is the single-tenant deployment
of every release before this one, at today's paths. `settings` holds a tenant's own values
(authapi.tenants.settings validates them); empty means the deployment's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id ~ '^[a-z0-9][a-z0-9-]{0,31}$'", name=op.f("ck_tenants_id_slug")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    # the migration's own clock: the row records when the deployment became multi-tenant
    op.execute("INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default', now())")


def downgrade() -> None:
    op.drop_table("tenants")
