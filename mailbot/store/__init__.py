"""store: the data-access room. The tables (`tables.py`), the `Database` that opens sessions
(`database.py`), and every query, as named methods of small query classes, one module per
subject. Nothing outside this package builds SQL."""

from mailbot.store.database import Database
from mailbot.store.tables import (
    DeskCounter,
    EventRow,
    Message,
    OutboxRow,
    OutboxState,
    SpoolItem,
    SpoolState,
    Ticket,
    TicketState,
    TimeLog,
    UTCDateTime,
)

__all__ = [
    "Database",
    "DeskCounter",
    "EventRow",
    "Message",
    "OutboxRow",
    "OutboxState",
    "SpoolItem",
    "SpoolState",
    "Ticket",
    "TicketState",
    "TimeLog",
    "UTCDateTime",
]
