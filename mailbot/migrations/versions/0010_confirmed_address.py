"""Addresses an agent confirmed as a customer's (CleverBox, POLICIES.md §5): a stranger
identified by company name and contract number becomes the customer's contact only once an
agent says so (`mailbot customers confirm`); the pipeline reads them with the desk file's
contacts. Nothing existing changes: the table starts empty.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailbot.store

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "confirmed_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("desk", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=128), nullable=False),
        sa.Column("confirmed_at", mailbot.store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("desk", "address", name="uq_confirmed_address"),
    )


def downgrade() -> None:
    op.drop_table("confirmed_address")
