"""store.events: the history — who did what to a ticket or a spool item, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from mailbot.store.database import core_execute, table_of
from mailbot.store.tables import EventRow

_INSERT = insert(table_of(EventRow))
"""A mail writes three or four history rows: each one Core INSERT, built once."""


class Events:
    """History rows, inside the caller's session (and so its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        kind: str,
        at: datetime,
        *,
        ticket_id: int | None = None,
        spool_id: str | None = None,
        **detail: Any,
    ) -> None:
        row = {"ticket_id": ticket_id, "spool_id": spool_id, "kind": kind, "detail": detail}
        # the ticket and spool item it names are in the database already (Tickets.add flushes)
        core_execute(self.session, _INSERT, {**row, "at": at}, flush=False)

    def of_ticket(self, ticket_id: int) -> list[EventRow]:
        query = select(EventRow).where(col(EventRow.ticket_id) == ticket_id)
        return list(self.session.exec(query.order_by(col(EventRow.id))).all())

    def of_spool_item(self, spool_id: str) -> list[EventRow]:
        query = select(EventRow).where(col(EventRow.spool_id) == spool_id)
        return list(self.session.exec(query.order_by(col(EventRow.id))).all())
