"""store.tickets: tickets by number, the desk's queue, counts the rules read, new numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, text
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from mailbot.store.database import core_execute, table_of, upsert_for
from mailbot.store.reader import QUEUE_SQL, TicketRow, queue_parameters
from mailbot.store.tables import DeskCounter, Ticket

_TICKET, _COUNTER = table_of(Ticket).c, table_of(DeskCounter)
_CREATED_SINCE = core_select(func.count()).where(
    _TICKET.desk == bindparam("desk"),
    _TICKET.customer == bindparam("customer"),
    _TICKET.created_at >= bindparam("since"),
)
"""Read for every mail of a known customer where a desk counts requests: built once."""


class Tickets:
    """Tickets, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, ticket: Ticket) -> Ticket:
        """Insert and flush, so the ticket has its id for the rows that point at it."""
        self.session.add(ticket)
        self.session.flush()
        return ticket

    def get(self, ticket_id: int) -> Ticket | None:
        return self.session.get(Ticket, ticket_id)

    def by_number(self, number: str, desk: str | None = None) -> Ticket | None:
        """Exactly this number (callers normalise what a person typed)."""
        query = select(Ticket).where(col(Ticket.number) == number)
        if desk is not None:
            query = query.where(col(Ticket.desk) == desk)
        return self.session.exec(query).first()

    def next_number(self, desk: str, prefix: str, *, postgres: bool) -> str:
        """The desk's next ticket number, counted in the same transaction as the ticket."""
        insert = upsert_for(postgres)
        statement = (
            insert(_COUNTER)
            .values(desk=desk, last_number=1)
            .on_conflict_do_update(
                index_elements=["desk"], set_={"last_number": _COUNTER.c.last_number + 1}
            )
            .returning(_COUNTER.c.last_number)
        )
        number = core_execute(self.session, statement, flush=False).scalar_one()
        return f"{prefix}-{number:06d}"

    def created_since(self, desk: str, customer: str, since: datetime) -> int:
        """How many tickets a customer opened at a desk since `since`."""
        parameters = {"desk": desk, "customer": customer, "since": since}
        count: int = core_execute(self.session, _CREATED_SINCE, parameters).scalar_one()
        return count

    def queue(self, *, desk: str | None, state: str | None, limit: int) -> list[TicketRow]:
        """The queue in working order: `reader.QUEUE_SQL`, the one text of that order, read
        through the table's column types (aware UTC times, JSON decoded)."""
        statement = text(QUEUE_SQL).columns(*Ticket.__table__.columns)  # type: ignore[attr-defined]
        result = self.session.execute(statement, queue_parameters(desk, state, limit))
        return [TicketRow(**row) for row in result.mappings()]
