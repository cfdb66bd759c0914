"""store.outbox: mails waiting to leave — queued with their outcome, sent once, retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from mailbot.store.database import core_execute, table_of
from mailbot.store.tables import OutboxRow, OutboxState

_OUTBOX = table_of(OutboxRow).c
_QUEUED_TO_SINCE = core_select(func.count()).where(
    _OUTBOX.to_addr == bindparam("address"), _OUTBOX.created_at >= bindparam("since")
)
"""Read before every automatic reply (the rate limit): built once (`core_execute`)."""


class Outbox:
    """Outbox rows, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: OutboxRow) -> None:
        self.session.add(row)

    def queued_to_since(self, address: str, since: datetime) -> int:
        """Mails queued to `address` since `since` (the automatic-reply rate limit)."""
        parameters = {"address": address, "since": since}
        count: int = core_execute(self.session, _QUEUED_TO_SINCE, parameters).scalar_one()
        return count

    def pending_with_ids(self, message_ids: Sequence[str]) -> list[OutboxRow]:
        query = select(OutboxRow).where(
            col(OutboxRow.message_id).in_(list(message_ids)),
            col(OutboxRow.state) == OutboxState.pending,
        )
        return list(self.session.exec(query).all())

    def due(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Pending rows whose next attempt is due, longest waiting first."""
        return list(
            self.session.exec(
                select(OutboxRow)
                .where(
                    col(OutboxRow.state) == OutboxState.pending,
                    col(OutboxRow.next_attempt_at) <= now,
                )
                .order_by(col(OutboxRow.next_attempt_at))
                .limit(limit)
            ).all()
        )

    def settle(self, row_id: int | None, **values: object) -> None:
        """Record one attempt on a row still pending (a row already settled is left alone)."""
        self.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == row_id, col(OutboxRow.state) == OutboxState.pending)
            .values(attempts=OutboxRow.attempts + 1, **values)
        )

    def of_ticket(self, ticket_id: int) -> list[OutboxRow]:
        query = select(OutboxRow).where(col(OutboxRow.ticket_id) == ticket_id)
        return list(self.session.exec(query.order_by(col(OutboxRow.id))).all())
