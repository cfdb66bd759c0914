"""Columns holding lists and mappings become JSON columns.

SQLite stores JSON as text, so its files need nothing; PostgreSQL converts the text it held.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_COLUMNS = {
    "spool_item": ("rcpt_to", "skip_rules"),
    "ticket": ("missing", "sla_clock"),
    "message": ("notes", "attachments"),
    "event": ("detail",),
    "outbox": ("rcpt_to",),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in JSON_COLUMNS.items():
        for column in columns:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
            op.execute(
                f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE JSON USING "{column}"::json'
            )
    for table, column in (
        ("spool_item", "skip_rules"),
        ("ticket", "missing"),
        ("message", "attachments"),
    ):
        op.execute(f"ALTER TABLE {table} ALTER COLUMN \"{column}\" SET DEFAULT '[]'::json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in JSON_COLUMNS.items():
        for column in columns:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP DEFAULT')
            op.execute(
                f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE TEXT USING "{column}"::text'
            )
