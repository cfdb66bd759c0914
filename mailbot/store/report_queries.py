"""store.report_queries: what the monthly SLA report reads — one desk's tickets received in a
span, as the ten plain columns the report judges, streamed: a month can hold 100,000 tickets, and
building that many `Ticket` instances, or even holding them all in a list, costs more than
judging them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlmodel import Session, col

from mailbot.store.tables import Ticket


class ReceivedTicket(NamedTuple):
    """A ticket as the SLA report sees it (the columns of `Ticket` of the same names)."""

    sla_level: str | None
    customer: str | None
    received_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_responded_at: datetime | None
    solved_at: datetime | None
    sla_clock: dict[str, Any] | None
    sla_running_since: datetime | None
    sla_used_seconds: int


class ReportQueries:
    """The report's reads, inside a session the caller opened (`Database.reading()`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def tickets_received(
        self, desk: str, start: datetime, end: datetime
    ) -> Iterator[ReceivedTicket]:
        """The desk's tickets with `start <= received_at < end` (aware datetimes), in no order,
        fetched as they are read: read them all before the session closes."""
        query = (
            select(
                col(Ticket.sla_level),
                col(Ticket.customer),
                col(Ticket.received_at),
                col(Ticket.first_response_due),
                col(Ticket.resolution_due),
                col(Ticket.first_responded_at),
                col(Ticket.solved_at),
                col(Ticket.sla_clock),
                col(Ticket.sla_running_since),
                col(Ticket.sla_used_seconds),
            )
            .where(col(Ticket.desk) == desk)
            .where(col(Ticket.received_at) >= start.astimezone(UTC))
            .where(col(Ticket.received_at) < end.astimezone(UTC))
        )
        return map(ReceivedTicket._make, self.session.connection().execute(query))
