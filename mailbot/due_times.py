"""due_times: a ticket's due times as people and scripts read them, in the desk's offset.

Apart from `clocks` (which writes them) so that the queue's JSON needs neither the store's
tables nor the calendars: `mailbot tickets list --json` must stay quick.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mailbot.config import DeskSettings


class Clocked(Protocol):
    """What is read of a ticket: a `tables.Ticket` or a `reader.TicketRow`."""

    @property
    def first_response_due(self) -> datetime | None: ...

    @property
    def resolution_due(self) -> datetime | None: ...

    @property
    def sla_clock(self) -> dict[str, Any] | None: ...

    @property
    def sla_running_since(self) -> datetime | None: ...


def deadlines_json(ticket: Clocked, desk: DeskSettings) -> dict[str, Any]:
    """A ticket's due times in the desk's local offset, as scripts and people read them."""

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(desk.zone).isoformat() if moment is not None else None

    return {
        "first_response_due": local(ticket.first_response_due),
        "resolution_due": local(ticket.resolution_due),
        "sla_paused": ticket.sla_clock is not None and ticket.sla_running_since is None,
    }
