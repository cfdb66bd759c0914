"""store: the data-access room. The tables (`tables.py`), the `Database` that opens sessions
(`database.py`), and every query, as named methods of small query classes, one module per
subject, each wrapping the caller's `Session` (so one transaction spans several of them).
Nothing outside this package builds SQL or imports SQLAlchemy."""

from sqlmodel import Session

from mailbot.store.database import Database
from mailbot.store.events import Events
from mailbot.store.mailboxes import MailboxStates
from mailbot.store.messages import Messages
from mailbot.store.notices import Notices
from mailbot.store.outbox import Outbox
from mailbot.store.report_queries import ReceivedTicket, ReportQueries
from mailbot.store.spool_items import SpoolItems, record_received
from mailbot.store.tables import (
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

__all__ = [
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
