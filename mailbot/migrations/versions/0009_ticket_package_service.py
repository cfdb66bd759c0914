"""The prepaid service a ticket asks for (crmonline): only such tickets' logged time comes off
a package; free-support tickets' time is recorded but not charged.

Tickets that already have time logged keep being charged as before ("charged_before_0009"):
nothing that a customer's balance showed yesterday changes by upgrading.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("package_service", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE ticket SET package_service = 'charged_before_0009'"
        " WHERE id IN (SELECT ticket_id FROM time_log)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("package_service")
