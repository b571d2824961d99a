"""users.email_skeleton: the address as it reads (UTS #39 skeleton, in part), unique, so a
look-alike collides with its original whichever registered first.

Expand only: the column is nullable, so code that does not write it yet (the previous release,
during a deploy) keeps working; a later migration may make it NOT NULL. Existing rows are filled
here; where look-alikes already exist, the oldest account keeps the skeleton and the younger
ones stay NULL (they are not removed, and nothing new can join them).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from authapi.users.confusables import skeleton

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_skeleton", sa.String(length=320), nullable=True))
    connection = op.get_bind()
    users = connection.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id"))
    seen: set[str] = set()
    for user_id, email in users.fetchall():
        prototype = skeleton(email)
        if prototype not in seen:
            seen.add(prototype)
            connection.execute(
                sa.text("UPDATE users SET email_skeleton = :skeleton WHERE id = :id"),
                {"skeleton": prototype, "id": user_id},
            )
    op.create_unique_constraint(op.f("uq_users_email_skeleton"), "users", ["email_skeleton"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_users_email_skeleton"), "users", type_="unique")
    op.drop_column("users", "email_skeleton")
