"""store: the data-access room. The tables (`tables.py`), the `Database` that opens sessions
(`database.py`), and every query, as named methods of small query classes, one module per
subject, each wrapping the caller's `Session` (so one transaction spans several of them).
Nothing outside this package builds SQL or imports SQLAlchemy.

The names below are loaded on first use (PEP 562), not when the package is imported: the
read path (`store.reader`) answers `mailbot tickets list` with the standard library's sqlite3,
and importing SQLAlchemy and SQLModel alone costs more than the whole answer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from mailbot.store.confirmed import ConfirmedAddresses
    from mailbot.store.database import Database
    from mailbot.store.events import Events
    from mailbot.store.mailboxes import MailboxStates
    from mailbot.store.messages import Messages
    from mailbot.store.notices import Notices
    from mailbot.store.outbox import Outbox
    from mailbot.store.report_queries import ReceivedTicket, ReportQueries
    from mailbot.store.spool_items import SpoolItems, record_received
    from mailbot.store.tables import (
        ConfirmedAddress,
        DeskCounter,
        EventRow,
        MailboxState,
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
    from mailbot.store.tickets import Tickets
    from mailbot.store.time_log import TimeLogs

_HOMES = {
    "ConfirmedAddress": "mailbot.store.tables",
    "ConfirmedAddresses": "mailbot.store.confirmed",
    "Database": "mailbot.store.database",
    "DeskCounter": "mailbot.store.tables",
    "EventRow": "mailbot.store.tables",
    "Events": "mailbot.store.events",
    "MailboxState": "mailbot.store.tables",
    "MailboxStates": "mailbot.store.mailboxes",
    "Message": "mailbot.store.tables",
    "Messages": "mailbot.store.messages",
    "Notices": "mailbot.store.notices",
    "Outbox": "mailbot.store.outbox",
    "OutboxRow": "mailbot.store.tables",
    "OutboxState": "mailbot.store.tables",
    "ReceivedTicket": "mailbot.store.report_queries",
    "ReportQueries": "mailbot.store.report_queries",
    "Session": "sqlmodel",
    "SpoolItem": "mailbot.store.tables",
    "SpoolItems": "mailbot.store.spool_items",
    "SpoolState": "mailbot.store.tables",
    "Ticket": "mailbot.store.tables",
    "TicketState": "mailbot.store.tables",
    "Tickets": "mailbot.store.tickets",
    "TimeLog": "mailbot.store.tables",
    "TimeLogs": "mailbot.store.time_log",
    "UTCDateTime": "mailbot.store.tables",
    "record_received": "mailbot.store.spool_items",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # once loaded, a plain module attribute
    return value


__all__ = [
    "ConfirmedAddress",
    "ConfirmedAddresses",
    "Database",
    "DeskCounter",
    "EventRow",
    "Events",
    "MailboxState",
    "MailboxStates",
    "Message",
    "Messages",
    "Notices",
    "Outbox",
    "OutboxRow",
    "OutboxState",
    "ReceivedTicket",
    "ReportQueries",
    "Session",
    "SpoolItem",
    "SpoolItems",
    "SpoolState",
    "Ticket",
    "TicketState",
    "Tickets",
    "TimeLog",
    "TimeLogs",
    "UTCDateTime",
    "record_received",
]
