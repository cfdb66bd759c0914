"""store.time_log: work time agents logged on tickets (what prepaid packages are charged)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from mailbot.store.tables import Ticket, TimeLog


class TimeLogs:
    """Logged work time, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        desk: str,
        customer: str | None,
        ticket_id: int,
        minutes: int,
        by: str,
        note: str,
        at: datetime,
    ) -> None:
        self.session.add(
            TimeLog(
                desk=desk,
                customer=customer,
                ticket_id=ticket_id,
                minutes=minutes,
                by=by,
                note=note,
                at=at,
            )
        )

    def entries(self, desk: str, customer: str) -> list[tuple[datetime, int, bool]]:
        """(when, minutes, charged) of every row logged for a customer of a desk, oldest first.

        Charged: the ticket asks for a prepaid service (`Ticket.package_service`); the time of
        a free-support ticket is recorded but comes off no package.
        """
        rows = self.session.exec(
            select(TimeLog.at, TimeLog.minutes, Ticket.package_service)
            .join(Ticket, col(Ticket.id) == col(TimeLog.ticket_id))
            .where(col(TimeLog.desk) == desk, col(TimeLog.customer) == customer)
            .order_by(col(TimeLog.at), col(TimeLog.id))
        ).all()
        return [(at, minutes, service is not None) for at, minutes, service in rows]

    def minutes(self, desk: str, customer: str) -> int:
        """All minutes logged for a customer of a desk."""
        total = self.session.exec(
            select(func.coalesce(func.sum(TimeLog.minutes), 0)).where(
                col(TimeLog.desk) == desk, col(TimeLog.customer) == customer
            )
        ).one()
        return int(total)
