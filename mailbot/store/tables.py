"""store.tables: the SQLModel tables. All datetimes are aware and stored as UTC; columns that
hold lists or mappings are SQLAlchemy JSON columns, so callers read and write Python values.

Their empty defaults are plain `default=[]`/`{}` (pydantic copies them per instance), not
`default_factory`: pydantic inspects a factory's signature on every construction, which cost
~0.2 ms of the worker's ~5 ms a mail (measured with benchmarks/worker.py under cProfile)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; this gives back aware UTC datetimes on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; keep every datetime aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=nullable, index=index),
    )


class SpoolState(enum.StrEnum):
    received = "received"
    done = "done"
    quarantined = "quarantined"


class SpoolItem(SQLModel, table=True):
    __tablename__ = "spool_item"

    id: str = Field(primary_key=True, max_length=64)
    """SHA-256 of the raw bytes: the same bytes accepted twice are one item."""
    source: str = Field(max_length=32)
    mail_from: str | None = Field(default=None, sa_column=Column(Text))
    rcpt_to: list[str] = Field(default=[], sa_column=Column(JSON, nullable=False))
    size: int
    accepted_at: datetime = _ts()
    state: str = Field(default=SpoolState.received, max_length=16, index=True)
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    desk: str | None = Field(default=None, max_length=64)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    finished_at: datetime | None = _ts(nullable=True)
    skip_rules: list[str] = Field(
        default=[], sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    """Rules an admin overrode when releasing this item with --force."""


class TicketState(enum.StrEnum):
    new = "new"
    open = "open"
    waiting_customer = "waiting_customer"
    solved = "solved"
    closed = "closed"
    """Final: a reply to a closed ticket opens a new one that links it (`related_to`)."""


class Ticket(SQLModel, table=True):
    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    desk: str = Field(max_length=64, index=True)
    number: str = Field(max_length=32, unique=True)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    requester: str = Field(sa_column=Column(Text, nullable=False))
    requester_name: str = Field(default="", sa_column=Column(Text, nullable=False))
    state: str = Field(default=TicketState.new, max_length=32)
    customer: str | None = Field(default=None, sa_column=Column(Text))
    language: str = Field(
        default="en", sa_column=Column(String(8), nullable=False, server_default="en")
    )
    product: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=64)
    impact: str | None = Field(default=None, max_length=16)
    urgency: str | None = Field(default=None, max_length=16)
    priority: str | None = Field(default=None, max_length=8)
    sla_level: str | None = Field(default=None, max_length=32)
    package_service: str | None = Field(default=None, max_length=64)
    """The prepaid service asked for (crmonline): time logged on the ticket comes off a
    package; None: free support, its time is not charged."""
    missing: list[str] = Field(
        default=[], sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    """Fields the customer still owes; non-empty while waiting_customer."""
    received_at: datetime = _ts()
    first_response_due: datetime | None = _ts(nullable=True)
    resolution_due: datetime | None = _ts(nullable=True)
    sla_clock: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    """The SLA target the ticket got (calendar, first_response, resolution): read it with
    `deadlines.Clock.of(ticket)`, the one decoder."""
    sla_running_since: datetime | None = _ts(nullable=True)
    """When the clocks last started; None while they wait for the customer."""
    sla_used_seconds: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    """Working time used before the clocks last stopped."""
    first_responded_at: datetime | None = _ts(nullable=True)
    solved_at: datetime | None = _ts(nullable=True)
    assignee: str | None = Field(default=None, sa_column=Column(Text))
    """The agent (address) working the ticket: customer follow-ups go to that agent only."""
    level: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    """The solver level working it (cloudempiere's lines); `#escalate` raises it."""
    related_to: str | None = Field(default=None, max_length=32)
    """The earlier ticket (number) this one continues: a reply to a closed or long-solved one."""
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_desk_message_id", "desk", "message_id"),
        Index("ix_message_desk_sender", "desk", "from_addr", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    desk: str = Field(max_length=64)
    direction: str = Field(max_length=8)
    """'in' for mail received, 'out' for mail mailbot wrote (its Message-ID threads answers),
    'note' for an agent's internal note (never sent)."""
    author: str | None = Field(default=None, sa_column=Column(Text))
    """Who wrote it when that is not `from_addr`: the agent behind an answer sent from the
    desk's address, or behind a note."""
    spool_id: str | None = Field(default=None, foreign_key="spool_item.id", index=True)
    message_id: str = Field(sa_column=Column(String(998), nullable=False))
    from_addr: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = _ts()
    notes: list[str] = Field(default=[], sa_column=Column(JSON, nullable=False))
    attachments: list[dict[str, Any]] = Field(
        default=[], sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    """[{"name", "size", "type"}] of the mail's attachments (the bytes stay in the spool)."""
    fingerprint: str | None = Field(default=None, max_length=64)
    """Hash of the normalised subject and body: finds the same request sent twice."""


class EventRow(SQLModel, table=True):
    """The history: what happened to a ticket or a spool item, in order, never rewritten."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    spool_id: str | None = Field(default=None, max_length=64, index=True)
    kind: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default={}, sa_column=Column(JSON, nullable=False))
    at: datetime = _ts()


class OutboxState(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=32)
    message_id: str = Field(sa_column=Column(String(998), nullable=False, unique=True))
    mail_from: str = Field(sa_column=Column(Text, nullable=False))
    rcpt_to: list[str] = Field(sa_column=Column(JSON, nullable=False))
    to_addr: str = Field(
        default="", sa_column=Column(String(320), nullable=False, server_default="", index=True)
    )
    """The (first) recipient, lowercased: what the per-address auto-reply limit counts."""
    spool_id: str | None = Field(default=None, max_length=64, index=True)
    """The mail this row answers (refusals have no ticket, only this)."""
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """The rendered mail, fixed at write time, so a retry sends the very same bytes."""
    state: str = Field(default=OutboxState.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class TimeLog(SQLModel, table=True):
    """Time an agent spent on a ticket; deducted from the customer's prepaid package."""

    __tablename__ = "time_log"
    __table_args__ = (Index("ix_time_log_customer", "desk", "customer"),)

    id: int | None = Field(default=None, primary_key=True)
    desk: str = Field(max_length=64)
    customer: str | None = Field(default=None, sa_column=Column(Text))
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    minutes: int
    by: str = Field(max_length=128)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    at: datetime = _ts()


class ConfirmedAddress(SQLModel, table=True):
    """An address an agent confirmed as a customer's after it was identified by company name
    and contract number (CleverBox, POLICIES.md §5): from then on it counts as the customer's,
    like a contact the desk file lists. Taking it back deletes the row; the tickets' history
    keeps both events."""

    __tablename__ = "confirmed_address"
    __table_args__ = (UniqueConstraint("desk", "address", name="uq_confirmed_address"),)

    id: int | None = Field(default=None, primary_key=True)
    desk: str = Field(max_length=64)
    address: str = Field(sa_column=Column(String(320), nullable=False))
    """Lowercased, as `DeskSettings.customer_for` compares addresses."""
    customer: str = Field(sa_column=Column(Text, nullable=False))
    """The customer's name in the desk file."""
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    """The ticket opened by contract identification that the agent confirmed it from."""
    confirmed_by: str = Field(max_length=128)
    confirmed_at: datetime = _ts()


class DeskCounter(SQLModel, table=True):
    """Per-desk ticket numbers; bumped inside the outcome's transaction, so no gaps on crash."""

    __tablename__ = "desk_counter"

    desk: str = Field(primary_key=True, max_length=64)
    last_number: int = 0


class MailboxState(SQLModel, table=True):
    """Where the IMAP poller stands in one configured mailbox ([[imap]] name).

    Every message with a UID up to `last_uid` is settled: its outcome committed and the
    message marked or moved on the server, or deliberately left there (oversized,
    unreadable). A new `uidvalidity` means the server renumbered the folder: start again
    from UID 0 and let the spool's content hash find what was taken before."""

    __tablename__ = "imap_mailbox"

    name: str = Field(primary_key=True, max_length=64)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    """A 32-bit unsigned number: BIGINT, as PostgreSQL's INTEGER is signed."""
    last_uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = _ts()
    polled_at: datetime | None = _ts(nullable=True)
    """When the poller last finished a pass here (`mailbot status`, /metrics); None before."""
