"""Device tokens; disabling an account ends its sessions; server-side timeouts.

- device_tokens: a device a user signed in from, exempt from the account-wide login slow-down.
- A trigger revokes every live session of a user whose is_active goes from true to false, however
  it happens (the app does it itself too, with its own clock; this catches plain SQL).
- statement_timeout, lock_timeout and idle_in_transaction_session_timeout on the roles, scoped to
  this database (not per connection: a SET on connect pins RDS Proxy sessions).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from authapi.migrations.roles import app_role, timeouts_sql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

END_SESSIONS_FUNCTION = """
CREATE FUNCTION end_sessions_of_disabled_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_sessions SET revoked_at = now(), revoke_reason = 'account_disabled'
    WHERE user_id = NEW.id AND revoked_at IS NULL;
    RETURN NEW;
END
$$
"""
END_SESSIONS_TRIGGER = """
CREATE TRIGGER users_disabled_end_sessions
AFTER UPDATE OF is_active ON users
FOR EACH ROW WHEN (OLD.is_active AND NOT NEW.is_active)
EXECUTE FUNCTION end_sessions_of_disabled_user()
"""


def upgrade() -> None:
    op.create_table(
        "device_tokens",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_device_tokens")),
    )
    op.create_index(op.f("ix_device_tokens_user_id"), "device_tokens", ["user_id"])
    op.create_index(op.f("ix_device_tokens_expires_at"), "device_tokens", ["expires_at"])
    op.execute(END_SESSIONS_FUNCTION)
    op.execute(END_SESSIONS_TRIGGER)
    # the connecting role (the migrator in AWS), then the app's where this role may alter it
    # (a superuser here and in tests; in AWS infra/bootstrap-database.sh did it as the master)
    op.execute(timeouts_sql())
    app = app_role(context.config.attributes["role_prefix"])
    op.execute(timeouts_sql(app, only_as_superuser=True))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS users_disabled_end_sessions ON users")
    op.execute("DROP FUNCTION IF EXISTS end_sessions_of_disabled_user()")
    op.drop_table("device_tokens")
