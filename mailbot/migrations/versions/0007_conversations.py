"""Conversations by mail: the assigned agent, the solver level, the ticket a new one
continues, and the agent behind an answer or note.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("assignee", sa.Text(), nullable=True))
        batch.add_column(sa.Column("level", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("related_to", sa.String(length=32), nullable=True))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("author", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("author")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("related_to")
        batch.drop_column("level")
        batch.drop_column("assignee")
