"""store.status: the figures behind `mailbot status`, `mailbot outbox list` and /metrics.

Each query is one SQL text that both the standard library's `sqlite3` and SQLAlchemy's
`text()` run as written (`:name` parameters), so SQLite and PostgreSQL answer the same
question. Looking must never change what is looked at: on a SQLite file the text runs on a
connection opened read-only (`mode=ro`), which can neither create the file, nor migrate it,
nor take a writer's lock beside a running `serve`, and needs no SQLAlchemy at all (a
`status` asked at a terminal answers before SQLAlchemy would have finished importing). Every
other database goes through a `Database`, which creates nothing by connecting; a database
without the schema is reported, not created.

SQLite keeps `UTCDateTime` columns as UTC text ("2026-12-10 09:30:00.000000"); the text
compares in time order, so a time given to a query is written the same way there, and times
read back are turned into aware UTC datetimes on both backends (`when`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote

from mailbot.errors import DatabaseUnavailable
from mailbot.redact import masked

if TYPE_CHECKING:
    from mailbot.store.database import Database


Row = tuple[Any, ...]


class StatusSource(Protocol):
    """Something that runs the SQL texts below: `SqliteSource` or `DatabaseSource`."""

    def rows(self, sql: str, params: Mapping[str, Any]) -> list[Row]: ...

    def has_column(self, table: str, column: str) -> bool: ...

    def close(self) -> None: ...


def _sqlite_value(value: Any) -> Any:
    """A parameter as SQLite holds it: times as `UTCDateTime` writes them."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def when(value: Any) -> datetime | None:
    """A time read back: aware UTC on both backends (SQLite gives text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def listed(value: Any) -> list[Any]:
    """A JSON column read back: SQLite gives its text, PostgreSQL the decoded value."""
    if value is None:
        return []
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return list(decoded) if isinstance(decoded, list) else []


class SqliteSource:
    """A SQLite file opened read-only with the standard library."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def rows(self, sql: str, params: Mapping[str, Any]) -> list[Row]:
        values = {key: _sqlite_value(value) for key, value in params.items()}
        return [tuple(row) for row in self._connection.execute(sql, values)]

    def has_column(self, table: str, column: str) -> bool:
        found = self._connection.execute(
            "SELECT 1 FROM pragma_table_info(:table) WHERE name = :column",
            {"table": table, "column": column},
        ).fetchone()
        return found is not None

    def close(self) -> None:
        self._connection.close()


class DatabaseSource:
    """The same SQL through a `Database` (PostgreSQL; serve's own store for /metrics)."""

    def __init__(self, db: Database, *, owned: bool = False) -> None:
        self.db = db
        self._owned = owned

    def rows(self, sql: str, params: Mapping[str, Any]) -> list[Row]:
        from sqlalchemy import text

        with self.db.reading() as session:
            result = session.connection().execute(text(sql), dict(params))
            return [tuple(row) for row in result]

    def has_column(self, table: str, column: str) -> bool:
        from sqlalchemy import inspect

        # through a reading session: a plain connection of a SQLite engine begins IMMEDIATE,
        # which is a writer's lock
        with self.db.reading() as session:
            columns = inspect(session.connection()).get_columns(table)
            return any(c["name"] == column for c in columns)

    def close(self) -> None:
        if self._owned:
            self.db.dispose()


def _sqlite_path(url: str) -> Path | None:
    """The file of any SQLite URL (options after `?` ignored); None for other databases.
    An in-memory database is refused: a new one would be empty, there is nothing to see."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.split("+")[0] != "sqlite":
        return None
    rest = rest.partition("?")[0]
    if not rest or rest == ":memory:":
        raise DatabaseUnavailable(f"database {url}: an in-memory database holds nothing to show")
    return Path(unquote(rest))


def open_source(url: str) -> StatusSource:
    """A read-only view of the database at `url`; DatabaseUnavailable when there is none to
    read (no file, no schema, no answer), naming it and what to do."""
    path = _sqlite_path(url)
    if path is not None:
        if not path.is_file():
            raise DatabaseUnavailable(
                f"database {path}: no such file (`mailbot serve` or `mailbot db upgrade`"
                " creates it)"
            )
        try:
            connection = sqlite3.connect(
                f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=60
            )
            migrated = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(f"database {path}: cannot read it: {exc}") from exc
        if migrated is None:
            connection.close()
            raise DatabaseUnavailable(
                f"database {path}: has no mailbot tables yet (`mailbot db upgrade` makes them)"
            )
        return SqliteSource(connection)
    from mailbot.store.database import Database

    try:
        db = Database(url)
    except Exception as exc:
        raise DatabaseUnavailable(f"database {masked(url)}: {exc}") from exc
    try:
        migrated = db.has_schema()
    except Exception as exc:
        db.dispose()
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise DatabaseUnavailable(f"database {masked(url)}: cannot connect: {reason}") from exc
    if not migrated:
        db.dispose()
        raise DatabaseUnavailable(
            f"database {masked(url)}: has no mailbot tables yet (`mailbot db upgrade` makes them)"
        )
    return DatabaseSource(db, owned=True)


# -- the questions -----------------------------------------------------------------------

TICKETS_SQL = "SELECT desk, state, COUNT(*) FROM ticket GROUP BY desk, state"

_CLOCK_SQL = """
SELECT desk, '{clock}',
  SUM(CASE WHEN {due} <= :now THEN 1 ELSE 0 END),
  SUM(CASE WHEN {due} > :now AND {due} <= :until THEN 1 ELSE 0 END),
  MIN(CASE WHEN {due} > :now THEN {due} END)
FROM ticket
WHERE state NOT IN ('solved', 'closed') AND {due} IS NOT NULL AND {stop} IS NULL
GROUP BY desk
"""

CLOCKS_SQL = (
    _CLOCK_SQL.format(clock="first_response", due="first_response_due", stop="first_responded_at")
    + " UNION ALL "
    + _CLOCK_SQL.format(clock="resolution", due="resolution_due", stop="solved_at")
)
"""Per desk and clock: breached (due at or before `now`), due in (`now`, `until`], and the
next due time. A clock counts while it runs: a solved or closed ticket, a first response
given, and a clock waiting for the customer (its due time is cleared then) count nowhere."""

SPOOL_SQL = "SELECT COUNT(*), MIN(accepted_at) FROM spool_item WHERE state = 'received'"

OUTBOX_SQL = """
SELECT state, COUNT(*),
  SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END),
  SUM(CASE WHEN next_attempt_at <= :stuck_before THEN 1 ELSE 0 END),
  MIN(next_attempt_at)
FROM outbox GROUP BY state
"""
"""Per state: rows, rows tried before, rows whose next attempt is older than `stuck_before`,
and the earliest next attempt (meaningful for `pending`)."""

SET_ASIDE_SQL = """
SELECT CASE WHEN state = 'quarantined' THEN 'quarantined' ELSE 'dropped' END,
  COALESCE(reason, 'unknown'), COUNT(*),
  SUM(CASE WHEN finished_at >= :since THEN 1 ELSE 0 END)
FROM spool_item
WHERE state = 'quarantined' OR (state = 'done' AND outcome = 'dropped')
GROUP BY 1, 2
"""
"""Mail kept aside (quarantined now) and mail dropped unanswered (auto-replies, bounces...),
by reason: all of it, and what was finished since `since`."""

POLLERS_SQL = "SELECT name, last_uid, {polled} FROM imap_mailbox"

OUTBOX_ROWS_SQL = """
SELECT o.id, t.number, COALESCE(t.desk, s.desk), o.kind, o.to_addr, o.rcpt_to, o.state,
  o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.sent_at
FROM outbox o
LEFT JOIN ticket t ON t.id = o.ticket_id
LEFT JOIN spool_item s ON s.id = o.spool_id
WHERE o.state IN ({states})
ORDER BY o.id DESC
LIMIT :limit
"""
"""Outbox rows of some states, newest first, with their ticket's number and desk (a refusal
has no ticket: its desk is the refused mail's)."""


@dataclass(frozen=True, slots=True)
class OutboxLine:
    """One outbox row as an operator reads it (no mail bytes)."""

    id: int
    ticket: str | None
    desk: str | None
    kind: str
    to: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime | None
    sent_at: datetime | None


OUTBOX_STATES = ("pending", "sent", "failed")
"""`tables.OutboxState`'s values, without importing the tables."""


class StatusQueries:
    """The questions `status` asks, each answered with plain values."""

    def __init__(self, source: StatusSource) -> None:
        self.source = source

    def tickets(self) -> list[tuple[str, str, int]]:
        """(desk, state, tickets)."""
        return [(d, s, int(n)) for d, s, n in self.source.rows(TICKETS_SQL, {})]

    def clocks(
        self, now: datetime, until: datetime
    ) -> list[tuple[str, str, int, int, datetime | None]]:
        """(desk, clock, breached, due before `until`, next due) for the running clocks."""
        found = self.source.rows(CLOCKS_SQL, {"now": now, "until": until})
        return [(d, c, int(b or 0), int(s or 0), when(n)) for d, c, b, s, n in found]

    def spool(self) -> tuple[int, datetime | None]:
        """(items waiting to be processed, when the oldest of them was accepted)."""
        count, oldest = self.source.rows(SPOOL_SQL, {})[0]
        return int(count), when(oldest)

    def outbox(self, stuck_before: datetime) -> dict[str, tuple[int, int, int, datetime | None]]:
        """state -> (rows, tried before, next attempt before `stuck_before`, earliest next)."""
        found = self.source.rows(OUTBOX_SQL, {"stuck_before": stuck_before})
        return {s: (int(n), int(t or 0), int(o or 0), when(e)) for s, n, t, o, e in found}

    def set_aside(self, since: datetime) -> list[tuple[str, str, int, int]]:
        """(quarantined | dropped, reason, all, since `since`)."""
        found = self.source.rows(SET_ASIDE_SQL, {"since": since})
        return [(k, r, int(n), int(w or 0)) for k, r, n, w in found]

    def pollers(self) -> dict[str, tuple[int, datetime | None]]:
        """mailbox -> (last settled UID, last finished pass). A database not yet migrated to
        0008 knows no passes: they read as never (serve migrates it when next started)."""
        polled = "polled_at" if self.source.has_column("imap_mailbox", "polled_at") else "NULL"
        found = self.source.rows(POLLERS_SQL.format(polled=polled), {})
        return {name: (int(uid), when(at)) for name, uid, at in found}

    def outbox_rows(self, states: Sequence[str], limit: int) -> list[OutboxLine]:
        """Rows in `states` (of OUTBOX_STATES), newest first, at most `limit`."""
        unknown = set(states) - set(OUTBOX_STATES)
        if unknown or not states:
            raise ValueError(f"outbox states: {sorted(unknown) or 'none given'}")
        sql = OUTBOX_ROWS_SQL.format(states=", ".join(f"'{s}'" for s in states))
        return [
            OutboxLine(
                id=int(i),
                ticket=number,
                desk=desk,
                kind=kind,
                to=to_addr or next(iter(listed(rcpt)), ""),
                state=state,
                attempts=int(attempts),
                next_attempt_at=when(next_at),
                last_error=error,
                created_at=when(created),
                sent_at=when(sent),
            )
            for (i, number, desk, kind, to_addr, rcpt, state, attempts, next_at, error, created,
                 sent) in self.source.rows(sql, {"limit": limit})
        ]  # fmt: skip
