"""store.outbox: mails waiting to leave — queued with their outcome, sent once, retried."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from mailbot.store.tables import OutboxRow, OutboxState


class Outbox:
    """Outbox rows, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: OutboxRow) -> None:
        self.session.add(row)

    def queued_to_since(self, address: str, since: datetime) -> int:
        """Mails queued to `address` since `since` (the automatic-reply rate limit)."""
        return self.session.exec(
            select(func.count())
            .select_from(OutboxRow)
            .where(col(OutboxRow.to_addr) == address, col(OutboxRow.created_at) >= since)
        ).one()

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
