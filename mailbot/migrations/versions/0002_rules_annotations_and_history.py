"""Rule annotations on tickets, fingerprints for duplicates, per-address reply counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:04:52.368624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("attachments", sa.Text(), server_default="[]", nullable=False)
        )
        batch_op.create_index(
            "ix_message_desk_sender", ["desk", "from_addr", "received_at"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("to_addr", sa.String(length=320), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("spool_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_spool_id"), ["spool_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_to_addr"), ["to_addr"], unique=False)

    with op.batch_alter_table("spool_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("skip_rules", sa.Text(), server_default="[]", nullable=False))

    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="en", nullable=False)
        )
        batch_op.add_column(sa.Column("product", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("type", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("impact", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("urgency", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("sla_level", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("missing", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("missing")
        batch_op.drop_column("sla_level")
        batch_op.drop_column("priority")
        batch_op.drop_column("urgency")
        batch_op.drop_column("impact")
        batch_op.drop_column("category")
        batch_op.drop_column("type")
        batch_op.drop_column("product")
        batch_op.drop_column("language")
        batch_op.drop_column("customer")

    with op.batch_alter_table("spool_item", schema=None) as batch_op:
        batch_op.drop_column("skip_rules")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_to_addr"))
        batch_op.drop_index(batch_op.f("ix_outbox_spool_id"))
        batch_op.drop_column("spool_id")
        batch_op.drop_column("to_addr")

    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_desk_sender")
        batch_op.drop_column("attachments")
        batch_op.drop_column("fingerprint")
