"""tenant_id on every tenant-owned table (issue 17: isolation below the application code).

Every row a tenant owns carries `tenant_id varchar(32) NOT NULL DEFAULT 'default'`: PostgreSQL
11+ adds a column with a constant default without rewriting the table, and every existing row,
and every row the previous release inserts (it names no tenant), belongs to the default tenant,
the single-tenant deployment. Tables keyed by strings (rate_limit_buckets, login_throttles,
mail_circuits) are not tenant-owned: their keys name the tenant where it matters.

Keys. The primary keys stay what they were (`id`, app-made uuids; token hashes of 256 random
bits): unique across tenants by construction, and the ORM's identity stays one column. What
isolation needs is that no row can name another tenant's row, and that what is unique for a user
(an email, its look-alike skeleton, a token) is unique per tenant:
- users and auth_sessions get UNIQUE (tenant_id, id), which their children's foreign keys
  reference as (tenant_id, user_id) / (tenant_id, session_id): a session, token, factor or
  challenge of tenant A can never point at an account of tenant B. users.tenant_id references
  tenants(id).
- the unique constraints are rebuilt with tenant_id leading, under their old names, so the
  error mapping by name (uq_users_email: 409 email_taken) holds for this code and the previous
  release's: the same email can be two accounts in two tenants.
- mail_outbox keeps its foreign key on account_id alone: it is ON DELETE SET NULL, and a
  composite one would null tenant_id too (PostgreSQL 15's column list is not expressible in
  SQLAlchemy); its one statement writes the row and the account reference in one tenant.
- audit_events and event_outbox have no foreign keys (the trail outlives the account).

Expand only for the previous release: it inserts without tenant_id (the default applies),
reads without it (every row is the default tenant's until another tenant exists), and its
constraint names still mean what they meant. Downgrade fails on a unique violation once two
tenants share an email: remove the other tenants' rows first.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_OWNED = (
    "users",
    "auth_sessions",
    "refresh_tokens",
    "device_tokens",
    "account_tokens",
    "mail_outbox",
    "mfa_factors",
    "mfa_recovery_codes",
    "mfa_challenges",
    "audit_events",
    "event_outbox",
)
# parents whose (tenant_id, id) children reference
PARENTS = ("users", "auth_sessions")
# (table, column): unique per tenant now, under the same name
UNIQUE = (
    ("users", "email"),
    ("users", "email_skeleton"),
    ("refresh_tokens", "token_hash"),
    ("account_tokens", "outbox_id"),
    ("account_tokens", "token_hash"),
)
# (table, column, parent): ON DELETE CASCADE, composite now, under the same name
CHILDREN = (
    ("auth_sessions", "user_id", "users"),
    ("refresh_tokens", "session_id", "auth_sessions"),
    ("device_tokens", "user_id", "users"),
    ("account_tokens", "account_id", "users"),
    ("mfa_factors", "user_id", "users"),
    ("mfa_recovery_codes", "user_id", "users"),
    ("mfa_challenges", "user_id", "users"),
)


def upgrade() -> None:
    for table in TENANT_OWNED:
        op.add_column(
            table,
            sa.Column(
                "tenant_id",
                sa.String(length=32),
                server_default=sa.text("'default'"),
                nullable=False,
            ),
        )
    op.create_foreign_key("fk_users_tenant_id_tenants", "users", "tenants", ["tenant_id"], ["id"])
    for table in PARENTS:
        op.create_unique_constraint(f"uq_{table}_tenant_id_id", table, ["tenant_id", "id"])
    for table, column in UNIQUE:
        op.drop_constraint(f"uq_{table}_{column}", table, type_="unique")
        op.create_unique_constraint(f"uq_{table}_{column}", table, ["tenant_id", column])
        # the previous release looks these up by the column alone, which an index led by
        # tenant_id cannot serve (no skip scan before PostgreSQL 18): a plain index keeps its
        # login and refresh off a sequential scan while it still runs (models/tenancy.py)
        op.create_index(f"ix_{table}_{column}", table, [column])
    for table, column, parent in CHILDREN:
        op.drop_constraint(f"fk_{table}_{column}_{parent}", table, type_="foreignkey")
        op.create_foreign_key(
            f"fk_{table}_{column}_{parent}",
            table,
            parent,
            ["tenant_id", column],
            ["tenant_id", "id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    for table, column, parent in CHILDREN:
        op.drop_constraint(f"fk_{table}_{column}_{parent}", table, type_="foreignkey")
        op.create_foreign_key(
            f"fk_{table}_{column}_{parent}", table, parent, [column], ["id"], ondelete="CASCADE"
        )
    for table, column in UNIQUE:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_constraint(f"uq_{table}_{column}", table, type_="unique")
        op.create_unique_constraint(f"uq_{table}_{column}", table, [column])
    for table in PARENTS:
        op.drop_constraint(f"uq_{table}_tenant_id_id", table, type_="unique")
    op.drop_constraint("fk_users_tenant_id_tenants", "users", type_="foreignkey")
    for table in TENANT_OWNED:
        op.drop_column(table, "tenant_id")
