"""When each IMAP poller last finished a pass: what `mailbot status` and /metrics show, so an
operator sees a poller that stopped getting through before customers notice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailbot.store

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imap_mailbox") as batch:
        batch.add_column(
            sa.Column("polled_at", mailbot.store.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("imap_mailbox") as batch:
        batch.drop_column("polled_at")
