"""store.reader: the ticket queue for commands that only look, without SQLAlchemy.

`mailbot tickets list` is asked by a person waiting at a terminal. Importing SQLAlchemy and
SQLModel alone took longer than the half second the whole answer may take, so on a SQLite
file the queue is read with the standard library's `sqlite3`, read-only (`mode=ro`: it can
neither write nor take a writer's lock beside a running `serve`). Every other database
(PostgreSQL, an in-memory or unusual URL, a file that has no schema yet) goes through the
`Database` and `Tickets.queue`, which run the very same SQL text (`QUEUE_SQL`), so the order
is written once. Both return `TicketRow`s.

This module imports nothing of SQLAlchemy; `TICKET_COLUMNS` mirrors the `ticket` table (a
test holds it to `tables.Ticket`, column by column).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from mailbot.store.database import Database

TICKET_COLUMNS = (
    "id", "desk", "number", "subject", "requester", "requester_name", "state", "customer",
    "language", "product", "type", "category", "impact", "urgency", "priority", "sla_level",
    "package_service", "missing", "received_at", "first_response_due", "resolution_due",
    "sla_clock", "sla_running_since", "sla_used_seconds", "first_responded_at", "solved_at",
    "assignee", "level", "related_to", "created_at", "updated_at",
)  # fmt: skip
"""The `ticket` table's columns, in the order of `tables.Ticket`'s fields."""

TIME_COLUMNS = frozenset(
    ("received_at", "first_response_due", "resolution_due", "sla_running_since",
     "first_responded_at", "solved_at", "created_at", "updated_at")
)  # fmt: skip
"""Columns of type `UTCDateTime`: SQLite keeps them as UTC text without an offset."""

JSON_COLUMNS = frozenset(("missing", "sla_clock"))
"""Columns of type `JSON`: SQLite keeps them as JSON text."""

TICKET_STATES = ("new", "open", "waiting_customer", "solved", "closed")
"""`tables.TicketState`'s values, for a command that checks `--state` without the ORM."""

FINISHED_STATES = ("solved", "closed")
"""States that end the queue: nothing is due on them any more."""

FIRST_PRIORITIES = ("P1", "critical")
"""Priorities that jump the queue: cloudempiere's P1, CleverBox's critical requests (restoring
the system or a module, `rules/critical.py`)."""

QUEUE_SQL = f"""
SELECT {", ".join(TICKET_COLUMNS)}
FROM ticket
WHERE (CAST(:desk AS TEXT) IS NULL OR desk = :desk)
  AND (CAST(:state AS TEXT) IS NULL OR state = :state)
ORDER BY
  CASE WHEN state IN ({", ".join(f"'{s}'" for s in FINISHED_STATES)}) THEN 1 ELSE 0 END,
  CASE WHEN priority IN ({", ".join(f"'{p}'" for p in FIRST_PRIORITIES)}) THEN 0 ELSE 1 END,
  CASE WHEN COALESCE(first_response_due, resolution_due) IS NULL THEN 1 ELSE 0 END,
  COALESCE(first_response_due, resolution_due),
  id DESC
LIMIT :limit
"""
"""The queue in working order: unfinished before solved and closed, P1 and critical first,
then the earliest due; tickets without a running clock after those with one, newest first.
Parameters `desk`, `state` (NULL: any) and `limit`; `:name` is understood by both sqlite3
and SQLAlchemy's `text()`."""


def queue_parameters(desk: str | None, state: str | None, limit: int) -> dict[str, Any]:
    """An empty --desk or --state means "any", as it always did."""
    return {"desk": desk or None, "state": state or None, "limit": limit}


@dataclass(frozen=True, slots=True)
class TicketRow:
    """One ticket as the queue shows it: every column of `tables.Ticket`, read-only."""

    id: int
    desk: str
    number: str
    subject: str
    requester: str
    requester_name: str
    state: str
    customer: str | None
    language: str
    product: str | None
    type: str | None
    category: str | None
    impact: str | None
    urgency: str | None
    priority: str | None
    sla_level: str | None
    package_service: str | None
    missing: list[str]
    received_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_clock: dict[str, Any] | None
    sla_running_since: datetime | None
    sla_used_seconds: int
    first_responded_at: datetime | None
    solved_at: datetime | None
    assignee: str | None
    level: int
    related_to: str | None
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """Column name to value, in the table's order (what `Ticket.model_dump()` gives)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class QueueReader(Protocol):
    """Something that answers the queue: `SqliteReader` or `DatabaseReader`."""

    def queue(self, *, desk: str | None, state: str | None, limit: int) -> list[TicketRow]: ...

    def close(self) -> None: ...


def _utc(text: str | None) -> datetime | None:
    """What `tables.UTCDateTime` gives back: an aware UTC datetime."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_DECODERS: tuple[Callable[[Any], Any] | None, ...] = tuple(
    _utc if name in TIME_COLUMNS else _json if name in JSON_COLUMNS else None
    for name in TICKET_COLUMNS
)


def _row(values: Sequence[Any]) -> TicketRow:
    return TicketRow(
        *(
            value if decode is None else decode(value)
            for decode, value in zip(_DECODERS, values, strict=True)
        )
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (`sqlite:///path`); None for any other database, for
    `:memory:`, and for URLs with options, which the `Database` interprets."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            if not rest or "?" in rest or rest == ":memory:":
                return None
            return Path(unquote(rest))
    return None


class SqliteReader:
    """A SQLite file opened read-only with the standard library."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, url: str) -> SqliteReader | None:
        """The reader for `url`, or None when it is no SQLite file that holds the schema yet
        (the `Database` then creates it, as `serve` would)."""
        path = sqlite_file(url)
        if path is None or not path.is_file():
            return None
        connection = sqlite3.connect(
            f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=60
        )
        migrated = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if migrated is None:
            connection.close()
            return None
        return cls(connection)

    def queue(self, *, desk: str | None, state: str | None, limit: int) -> list[TicketRow]:
        rows = self._connection.execute(QUEUE_SQL, queue_parameters(desk, state, limit))
        return [_row(values) for values in rows]

    def close(self) -> None:
        self._connection.close()


class DatabaseReader:
    """The queue through a `Database` (PostgreSQL, or a SQLite the reader cannot open)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def queue(self, *, desk: str | None, state: str | None, limit: int) -> list[TicketRow]:
        from mailbot.store.tickets import Tickets

        with self.db.reading() as session:
            return Tickets(session).queue(desk=desk, state=state, limit=limit)

    def close(self) -> None:
        """The `Database` belongs to whoever opened it."""


def open_reader(url: str, database: Callable[[], Database]) -> QueueReader:
    """The quickest reader for `url`: sqlite3 on a SQLite file, else `database()`'s."""
    return SqliteReader.open(url) or DatabaseReader(database())
