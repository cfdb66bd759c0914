"""Time logged by agents on tickets, deducted from prepaid packages.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:19:08.681115
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailbot.store

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "time_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("at", mailbot.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("time_log", schema=None) as batch_op:
        batch_op.create_index("ix_time_log_customer", ["desk", "customer"], unique=False)
        batch_op.create_index(batch_op.f("ix_time_log_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("time_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_log_ticket_id"))
        batch_op.drop_index("ix_time_log_customer")

    op.drop_table("time_log")
