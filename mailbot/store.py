"""store: the SQLModel tables and the only place that opens database sessions.

SQLite runs in WAL mode with every write transaction taken IMMEDIATE, so concurrent writers
queue on the busy timeout instead of failing half-way; PostgreSQL needs nothing special.
All datetimes are aware and stored as UTC.
"""

from __future__ import annotations

import enum
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Index, Integer, LargeBinary, String, Text, event
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    rcpt_to: str = Field(default="[]", sa_column=Column(Text, nullable=False))
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
    skip_rules: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, server_default="[]")
    )
    """Rules an admin overrode when releasing this item with --force (JSON list)."""


class TicketState(enum.StrEnum):
    new = "new"
    open = "open"
    waiting_customer = "waiting_customer"
    solved = "solved"


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
    missing: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    """Fields the customer still owes (JSON list); non-empty while waiting_customer."""
    received_at: datetime = _ts()
    first_response_due: datetime | None = _ts(nullable=True)
    resolution_due: datetime | None = _ts(nullable=True)
    sla_clock: str | None = Field(default=None, sa_column=Column(Text))
    """The SLA target the ticket got (JSON: calendar, first_response, resolution)."""
    sla_running_since: datetime | None = _ts(nullable=True)
    """When the clocks last started; None while they wait for the customer."""
    sla_used_seconds: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    """Working time used before the clocks last stopped."""
    first_responded_at: datetime | None = _ts(nullable=True)
    solved_at: datetime | None = _ts(nullable=True)
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
    """'in' for mail received, 'out' for mail mailbot wrote (its Message-ID threads answers)."""
    spool_id: str | None = Field(default=None, foreign_key="spool_item.id", index=True)
    message_id: str = Field(sa_column=Column(String(998), nullable=False))
    from_addr: str = Field(sa_column=Column(Text, nullable=False))
    subject: str = Field(sa_column=Column(Text, nullable=False))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = _ts()
    notes: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    attachments: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, server_default="[]")
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
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
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
    rcpt_to: str = Field(sa_column=Column(Text, nullable=False))
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


class DeskCounter(SQLModel, table=True):
    """Per-desk ticket numbers; bumped inside the outcome's transaction, so no gaps on crash."""

    __tablename__ = "desk_counter"

    desk: str = Field(primary_key=True, max_length=64)
    last_number: int = 0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A writer takes the lock up front (IMMEDIATE): a deferred transaction that later
    # upgrades to a writer fails at once with SQLITE_BUSY instead of waiting its turn.
    # Readers begin deferred and, in WAL mode, never block or wait for a writer.
    if conn.get_execution_options().get(_READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


_READ_ONLY = "mailbot_read_only"


class _WriterLock:
    """One SQLite writer at a time across threads (a lock) and processes (flock).

    A blocked flock wakes the moment the holder lets go, where SQLite's own busy handler
    sleeps 1, 2, 5, 10... ms between retries: that sleeping was the long tail of SMTP
    answers once the pipeline ran in worker processes beside the receiver.
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640) if path is not None else None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


_write_locks: dict[int, _WriterLock] = {}


def make_engine(url: str) -> Engine:
    """The engine for a database URL (PostgreSQL options such as search_path go in its query)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        _write_locks[id(engine)] = _WriterLock(
            Path(database + ".writelock") if database and database != ":memory:" else None
        )
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(parsed, pool_pre_ping=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def writing(engine: Engine) -> Iterator[None]:
    """Writers of one process queue on a lock that wakes them at once.

    SQLite allows one writer; left to itself, a waiting writer sleeps in growing steps
    (up to 100 ms) before retrying, which is what made the long tail of SMTP answers.
    Other processes still meet the database's own busy timeout.
    """
    lock = _write_locks.get(id(engine))
    if lock is None:
        yield
        return
    with lock:
        yield


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with (
        writing(engine),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A read-only session: on SQLite it takes no write lock and waits for no writer."""
    reader = _readers.get(id(engine))
    if reader is None:
        reader = _readers[id(engine)] = engine.execution_options(**{_READ_ONLY: True})
    with Session(reader, expire_on_commit=False) as session:
        yield session


_readers: dict[int, Engine] = {}


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (alembic), creating it on a fresh database."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
