"""store.database: one `Database` per URL owns the engine, the writers' lock and the read-only
engine, and is the only thing that opens sessions.

SQLite runs in WAL mode with every write transaction taken IMMEDIATE, so concurrent writers
queue instead of failing half-way; readers take no write lock and wait for no writer.
PostgreSQL needs nothing special.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Table, event, inspect
from sqlalchemy.engine import CursorResult, make_url
from sqlmodel import Session, SQLModel, create_engine

_READ_ONLY = "mailbot_read_only"


def _to_json(value: Any) -> str:
    """JSON columns keep text readable (no \\u escapes) and store times as ISO strings."""
    return json.dumps(value, ensure_ascii=False, default=str)


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


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for the statements `core_execute` runs."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


def core_execute(
    session: Session,
    statement: Executable,
    parameters: dict[str, Any] | None = None,
    *,
    flush: bool = True,
) -> CursorResult[Any]:
    """Run a Core statement (built once, with bind parameters) in the session's transaction.

    The hot reads and writes of one mail go this way rather than through an ORM query: the
    ORM spends about 0.35 ms more per statement building, compiling and loading objects
    (docs/benchmarks.md, issue 12), and a mail runs a dozen. Pending ORM rows are flushed
    first, as an ORM query would (autoflush), so the statement sees them; `flush=False` for
    a write that needs none of them (a history row, whose ticket is flushed when added):
    each flush costs its own round of the unit of work, and pending rows flushed together
    go in one statement.
    """
    if flush and session.autoflush:
        session.flush()
    return session.connection().execute(statement, parameters or {})


def upsert_for(postgres: bool) -> Any:
    """The dialect's INSERT that knows ON CONFLICT. Imported when first written, so commands
    that only read do not pay for loading the PostgreSQL dialect (~70 ms)."""
    if postgres:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class _WriterLock:
    """One SQLite writer at a time across threads (a lock) and processes (flock).

    A blocked flock wakes the moment the holder lets go, where SQLite's own busy handler
    sleeps 1, 2, 5, 10... ms between retries: that sleeping was the long tail of SMTP
    answers once the pipeline ran in worker processes beside the receiver.
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path is not None else None

    def __enter__(self) -> None:
        self.acquire(None)

    def acquire(self, wait: float | None) -> None:
        """Take the lock; with `wait`, TimeoutError after that many seconds (a stuck holder
        must not freeze the SMTP receiver). Only a timed wait polls, in steps of at most 1 ms."""
        deadline = time.monotonic() + (wait or 0.0)
        if not self._thread_lock.acquire(timeout=-1 if wait is None else wait):
            raise TimeoutError(f"database writer lock busy for {wait:g} s")
        if self._fd is None:
            return
        try:
            if wait is None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                return
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"database writer lock {self._path} held by another process"
                            f" for {wait:g} s"
                        ) from None
                    time.sleep(min(pause, left))
                    pause = min(pause * 2, 0.001)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    """A database URL opened once: its engine, its read-only engine and its writers' lock."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.url = url
        self._lock: _WriterLock | None = None
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                # mail bodies live here: a folder mailbot makes is 0700, the file 0600 (SQLite
                # gives its -wal and -shm files the database file's mode)
                Path(database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
            self.engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 60},
                json_serializer=_to_json,
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            self._lock = _WriterLock(
                Path(database + ".writelock") if database and database != ":memory:" else None
            )
        else:
            if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            self.engine = create_engine(parsed, pool_pre_ping=True, json_serializer=_to_json)
        self._reader = self.engine.execution_options(**{_READ_ONLY: True})

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def writing(self, wait: float | None = None) -> Iterator[None]:
        """Writers of one process queue on a lock that wakes them at once (SQLite only).

        Left to itself, a waiting SQLite writer sleeps in growing steps (up to 100 ms)
        before retrying, which is what made the long tail of SMTP answers. `wait`: give up
        with TimeoutError after that many seconds.
        """
        if self._lock is None:
            yield
            return
        self._lock.acquire(wait)
        try:
            yield
        finally:
            self._lock.__exit__()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with (
            self.writing(),
            Session(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session: on SQLite it takes no write lock and waits for no writer."""
        with Session(self._reader, expire_on_commit=False) as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (alembic), creating it on a fresh database."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(Path(__file__).parent.parent / "migrations"))
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

    def has_schema(self) -> bool:
        """Whether migrations ever ran here (a read-only command needs the tables to exist)."""
        with self.engine.connect() as connection:
            return inspect(connection).has_table("alembic_version")

    def dispose(self) -> None:
        """Close every pooled connection and the lock file (the object is done with)."""
        self.engine.dispose()
        if self._lock is not None:
            self._lock.close()
