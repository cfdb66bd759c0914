"""store.notices: what SLA escalation reads: tickets whose clocks run, the warnings and breach
notices already recorded, and the one ticket locked while its notices are decided."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from mailbot.store.tables import EventRow, Ticket, TicketState

NOTICE_KINDS = ("sla_warning", "sla_breach")
NEW_RUN = "reopened"
"""The event after which a ticket's clocks run anew (clocks.reopen): earlier notices are done."""


def _open_with_running_clock() -> tuple[Any, ...]:
    return (
        col(Ticket.state) != TicketState.solved,
        col(Ticket.sla_running_since).is_not(None),
    )


class Notices:
    """SLA notices' facts, inside the caller's session (and so its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def open_tickets_with_clocks(self, desk: str) -> list[Ticket]:
        query = select(Ticket).where(col(Ticket.desk) == desk, *_open_with_running_clock())
        return list(self.session.exec(query).all())

    def already_sent(self, ticket_ids: Iterable[int]) -> set[tuple[int, str, str]]:
        """(ticket id, notice kind, clock name) of every notice recorded for these tickets in
        their clocks' current run: a reopening starts a new run, whose deadlines are new."""
        query = (
            select(EventRow)
            .where(
                col(EventRow.ticket_id).in_(list(ticket_ids)),
                col(EventRow.kind).in_((*NOTICE_KINDS, NEW_RUN)),
            )
            .order_by(col(EventRow.id))
        )
        run: dict[int, set[tuple[str, str]]] = {}
        for event in self.session.exec(query):
            assert event.ticket_id is not None  # asked for by ticket
            if event.kind == NEW_RUN:
                run.pop(event.ticket_id, None)
            else:
                clocks = event.detail.get("clocks", [])
                run.setdefault(event.ticket_id, set()).update((event.kind, c) for c in clocks)
        return {(ticket_id, *notice) for ticket_id, sent in run.items() for notice in sent}

    def lock_ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket read afresh and held until the transaction ends; None if it is solved
        or its clocks wait by now.

        Whoever decides a ticket's notices holds this first, so a second decider (another
        `sla check`) waits and then sees the first one's record. On PostgreSQL that is the row
        lock; on SQLite every write transaction already holds the one writer's lock.
        """
        query = (
            select(Ticket)
            .where(col(Ticket.id) == ticket_id, *_open_with_running_clock())
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.exec(query).first()
