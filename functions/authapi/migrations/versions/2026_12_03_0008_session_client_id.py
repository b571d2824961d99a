"""Which OAuth client each session belongs to (issue 12).

- auth_sessions.client_id: the client that opened the session (the OAuth token endpoint's
  client, `AUTHAPI_DEFAULT_CLIENT_ID` for the JSON login and registration). A refresh token is
  exchanged only for the client its session belongs to (RFC 6749 section 6).

Expand only: the column is nullable, so the previous release (which writes none) keeps working on
this schema; a NULL (a session from before this migration, when the JSON API was the only
client) counts as the default client. This release also serves the schema before this migration
(`db/expand.py`), for the deploy that brings both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable without a default: PostgreSQL adds it without rewriting the table
    op.add_column("auth_sessions", sa.Column("client_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("auth_sessions", "client_id")
