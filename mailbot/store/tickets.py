"""store.tickets: tickets by number, the desk's queue, counts the rules read, new numbers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from mailbot.store.database import upsert_for
from mailbot.store.tables import DeskCounter, Ticket


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
            insert(DeskCounter)
            .values(desk=desk, last_number=1)
            .on_conflict_do_update(
                index_elements=["desk"], set_={"last_number": DeskCounter.last_number + 1}
            )
            .returning(col(DeskCounter.last_number))
        )
        number = self.session.execute(statement).scalar_one()
        return f"{prefix}-{number:06d}"

    def created_since(self, desk: str, customer: str, since: datetime) -> int:
        """How many tickets a customer opened at a desk since `since`."""
        return self.session.exec(
            select(func.count())
            .select_from(Ticket)
            .where(
                col(Ticket.desk) == desk,
                col(Ticket.customer) == customer,
                col(Ticket.created_at) >= since,
            )
        ).one()

    def queue(self, *, desk: str | None, state: str | None, limit: int) -> list[Ticket]:
        """The queue in working order: unsolved before solved, P1 first, then the earliest
        due; tickets without a running clock after those with one, newest first."""
        due = func.coalesce(col(Ticket.first_response_due), col(Ticket.resolution_due))
        query = (
            select(Ticket)
            .order_by(
                case((col(Ticket.state) == "solved", 1), else_=0),
                case((col(Ticket.priority) == "P1", 0), else_=1),
                case((due.is_(None), 1), else_=0),
                due,
                col(Ticket.id).desc(),
            )
            .limit(limit)
        )
        if desk:
            query = query.where(col(Ticket.desk) == desk)
        if state:
            query = query.where(col(Ticket.state) == state)
        return list(self.session.exec(query).all())
