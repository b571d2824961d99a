"""What the sessions API shows, and which data key derived each refresh token.

- auth_sessions.user_agent and ip: recorded when a sign-in opens the session (the trusted client
  address, `client_address.py`); last_used_at: moved by every refresh.
- refresh_tokens.key_id: the data key a successor was derived with (`auth/tokens.py`), so a retry
  within the reuse interval finds it again after that key stopped being current.

Expand only: every column is nullable, so the previous release (which writes none of them) keeps
working on this schema, and sessions and tokens from before it keep working after it (NULL: not
recorded; a token with no key id was random, not derived). This release also serves the schema
before this migration (`db/expand.py`), for the deploy that brings both.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable columns without a default: PostgreSQL adds them without rewriting the table
    op.add_column("auth_sessions", sa.Column("user_agent", sa.String(length=256), nullable=True))
    op.add_column("auth_sessions", sa.Column("ip", sa.String(length=45), nullable=True))
    op.add_column(
        "auth_sessions", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("refresh_tokens", sa.Column("key_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "key_id")
    op.drop_column("auth_sessions", "last_used_at")
    op.drop_column("auth_sessions", "ip")
    op.drop_column("auth_sessions", "user_agent")
