"""SLA clocks on tickets: resolution due, the target, paused time, first response, solved.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:04:14.010552
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailbot.store

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolution_due", mailbot.store.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("sla_clock", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("sla_running_since", mailbot.store.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sla_used_seconds", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("first_responded_at", mailbot.store.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("solved_at", mailbot.store.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("solved_at")
        batch_op.drop_column("first_responded_at")
        batch_op.drop_column("sla_used_seconds")
        batch_op.drop_column("sla_running_since")
        batch_op.drop_column("sla_clock")
        batch_op.drop_column("resolution_due")
