"""The read path of `mailbot tickets list`: the queue read with the standard library's sqlite3
gives exactly what the SQLAlchemy path gives (which PostgreSQL uses), in the working order,
and a fresh `mailbot tickets list` process never imports SQLAlchemy or SQLModel (that is how
its speed is held without a timed test; the figures are in docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON

from mailbot.store import Database, Ticket, TicketState, UTCDateTime
from mailbot.store.reader import (
    JSON_COLUMNS,
    TICKET_COLUMNS,
    TICKET_STATES,
    TIME_COLUMNS,
    DatabaseReader,
    SqliteReader,
    TicketRow,
    open_reader,
    sqlite_file,
)
from tests.conftest import REPO, run, write_config

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
KYIV = timezone(timedelta(hours=2))

# (number, desk, state, priority, first response due, resolution due, clock, running)
# in the order the queue must show them.
QUEUE = [
    ("CBX-000004", "cleverbox", "open", "P1", T0 + timedelta(hours=1), None, True, True),
    ("SRW-000002", "serwisant", "new", "P1", None, T0 + timedelta(hours=3), True, True),
    ("CBX-000003", "cleverbox", "new", "P1", None, None, False, False),
    ("SRW-000003", "serwisant", "open", "P2", T0 + timedelta(minutes=30), None, True, True),
    # the same due time: the newer ticket first
    ("CBX-000006", "cleverbox", "new", "P3", T0 + timedelta(hours=2), None, True, True),
    ("CBX-000005", "cleverbox", "open", None, T0 + timedelta(hours=2), None, True, True),
    ("SRW-000001", "serwisant", "open", "P4", None, T0 + timedelta(days=2), True, True),
    # paused (waiting for the customer) and clock-less tickets: newest first
    ("CBX-000008", "cleverbox", "waiting_customer", "P2", None, None, True, False),
    ("CBX-000002", "cleverbox", "new", None, None, None, False, False),
    # solved and closed at the end, newest first, whatever their priority
    ("CBX-000007", "cleverbox", "closed", "P1", None, None, True, False),
    ("SRW-000004", "serwisant", "solved", "P1", None, None, True, False),
    ("CBX-000001", "cleverbox", "solved", None, None, None, False, False),
]
CREATION_ORDER = sorted(QUEUE, key=lambda t: (t[0].split("-")[1], t[0]))
"""Ids are given in the order of the numbers, so "newest first" is checkable by number."""


def tickets_into(db: Database) -> None:
    with db.transaction() as session:
        for i, (number, desk, state, prio, first, resolution, clock, running) in enumerate(
            CREATION_ORDER
        ):
            received = T0 - timedelta(hours=len(QUEUE) - i)
            session.add(
                Ticket(
                    desk=desk,
                    number=number,
                    subject=f"Płatność nie przeszła «{number}» <script>",
                    requester=f"c{i}@client.test",
                    requester_name="Олена Коваль",
                    state=state,
                    customer="ТОВ Вектор" if desk == "cleverbox" else None,
                    language="uk",
                    priority=prio,
                    missing=["order_number", "screenshot"] if state == "waiting_customer" else [],
                    # stored in UTC whatever the offset given
                    received_at=received.astimezone(KYIV),
                    first_response_due=first,
                    resolution_due=resolution,
                    sla_clock={"calendar": "office", "first_response": 4, "resolution": None}
                    if clock
                    else None,
                    sla_running_since=received if running else None,
                    sla_used_seconds=90 if clock and not running else 0,
                    solved_at=T0 if state in ("solved", "closed") else None,
                    assignee="duty@cleverbox.test" if prio == "P1" else None,
                    level=2 if prio == "P1" else 1,
                    related_to="CBX-000001" if number == "CBX-000007" else None,
                    created_at=received,
                    updated_at=received + timedelta(minutes=5),
                )
            )


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    url = f"sqlite:///{tmp_path / 'mailbot.db'}"
    db = Database(url)
    db.upgrade()
    tickets_into(db)
    yield url, db
    db.dispose()


def numbers(rows: list[TicketRow]) -> list[str]:
    return [r.number for r in rows]


FILTERS: list[dict[str, Any]] = [
    {"desk": None, "state": None, "limit": 50},
    {"desk": "cleverbox", "state": None, "limit": 50},
    {"desk": None, "state": "open", "limit": 50},
    {"desk": "serwisant", "state": "solved", "limit": 50},
    {"desk": None, "state": None, "limit": 3},
    {"desk": "", "state": "", "limit": 50},  # an empty option means "any"
    {"desk": "nope", "state": None, "limit": 50},
]


def test_the_queue_is_in_working_order(sqlite_db: tuple[str, Database]) -> None:
    url, _ = sqlite_db
    reader = SqliteReader.open(url)
    assert reader is not None
    try:
        assert numbers(reader.queue(desk=None, state=None, limit=50)) == [t[0] for t in QUEUE]
        assert numbers(reader.queue(desk="serwisant", state=None, limit=2)) == [
            "SRW-000002",
            "SRW-000003",
        ]
        assert reader.queue(desk="nope", state=None, limit=50) == []
    finally:
        reader.close()


def test_sqlite3_and_sqlalchemy_read_the_same_rows(sqlite_db: tuple[str, Database]) -> None:
    url, db = sqlite_db
    fast = SqliteReader.open(url)
    assert fast is not None
    try:
        for given in FILTERS:
            got = fast.queue(**given)
            assert got == DatabaseReader(db).queue(**given), given
        [paused] = fast.queue(desk=None, state="waiting_customer", limit=5)
    finally:
        fast.close()
    # the values themselves, as the table gives them back: aware UTC times, decoded JSON
    with db.reading() as session:
        stored = session.get(Ticket, paused.id)
        assert stored is not None
        assert paused.as_dict() == stored.model_dump()
    assert paused.received_at.tzinfo is UTC and paused.received_at == T0 - timedelta(hours=1)
    assert paused.missing == ["order_number", "screenshot"]
    assert paused.sla_clock == {"calendar": "office", "first_response": 4, "resolution": None}
    assert paused.sla_running_since is None and paused.first_response_due is None


def test_the_queue_sql_orders_the_same_on_postgresql(db_url: str) -> None:
    """The one SQL text, through SQLAlchemy, on each database the conftest offers."""
    db = Database(db_url)
    try:
        db.upgrade()
        tickets_into(db)
        reader = open_reader(db_url, lambda: db)
        try:
            assert isinstance(reader, SqliteReader) == db_url.startswith("sqlite")
            assert numbers(DatabaseReader(db).queue(desk=None, state=None, limit=50)) == [
                t[0] for t in QUEUE
            ]
            for given in FILTERS:
                assert reader.queue(**given) == DatabaseReader(db).queue(**given), given
        finally:
            reader.close()
    finally:
        db.dispose()


def test_ticket_columns_mirror_the_table() -> None:
    """The reader knows the table without importing it; this holds the two together."""
    table = Ticket.__table__  # type: ignore[attr-defined]
    assert TICKET_COLUMNS == tuple(Ticket.model_fields) == tuple(c.name for c in table.columns)
    assert tuple(TicketRow.__dataclass_fields__) == TICKET_COLUMNS
    assert tuple(TicketState) == TICKET_STATES
    assert {c.name for c in table.columns if isinstance(c.type, UTCDateTime)} == TIME_COLUMNS
    assert {c.name for c in table.columns if isinstance(c.type, JSON)} == JSON_COLUMNS


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////var/lib/mailbot/m.db", Path("/var/lib/mailbot/m.db")),
        ("sqlite+pysqlite:////srv/a%20b.db", Path("/srv/a b.db")),
        ("sqlite:///var/m.db", Path("var/m.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:////srv/m.db?timeout=5", None),  # options: the Database interprets them
        ("sqlite+aiosqlite:////srv/m.db", None),
        ("postgresql://mailbot@db.example:5432/mailbot", None),
        ("", None),
    ],
)
def test_which_urls_the_standard_library_reads(url: str, path: Path | None) -> None:
    assert sqlite_file(url) == path


def test_a_file_without_the_schema_goes_to_the_database(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert SqliteReader.open(missing) is None
    assert not (tmp_path / "none.db").exists()  # read-only: it created nothing
    sqlite3.connect(tmp_path / "empty.db").close()
    assert SqliteReader.open(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_reading_waits_for_no_writer_and_cannot_write(sqlite_db: tuple[str, Database]) -> None:
    """Beside a running `serve`: a writer in the middle of its transaction holds the lock."""
    url, db = sqlite_db
    reader = SqliteReader.open(url)
    assert reader is not None
    try:
        with db.transaction() as session:
            session.add(
                Ticket(desk="cleverbox", number="CBX-000099", subject="s", requester="r@x.test",
                       state="new", priority="P1", received_at=T0, created_at=T0, updated_at=T0)
            )  # fmt: skip
            session.flush()
            assert "CBX-000099" not in numbers(reader.queue(desk=None, state=None, limit=50))
        assert numbers(reader.queue(desk=None, state=None, limit=1)) == ["CBX-000004"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._connection.execute("DELETE FROM ticket")
    finally:
        reader.close()


def _fresh_process(config: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """`mailbot <args>` in a new interpreter; what it printed, and which heavy modules it
    loaded (written to stderr after the command)."""
    script = (
        "import json, sys\n"
        "from mailbot.cli import cli\n"
        "try:\n"
        f"    cli(['--config', {str(config)!r}, *{list(args)!r}], obj={{}})\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel'))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
           os.environ.get("PYTHONPATH")]))}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_tickets_list_in_a_fresh_process_imports_no_sqlalchemy(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    db = Database(f"sqlite:///{tmp_path / 'mailbot.db'}")
    db.upgrade()
    tickets_into(db)
    db.dispose()

    done, seen = _fresh_process(config, "tickets", "list", "--json")
    assert seen == {"code": 0, "heavy": []}, done.stderr
    shown = json.loads(done.stdout)
    assert [t["number"] for t in shown] == [t[0] for t in QUEUE]
    first = shown[0]
    # every time in the desk's zone (CleverBox: Kyiv), with its offset
    assert first["first_response_due"] == "2026-11-16T12:00:00+02:00"
    assert first["received_at"] == "2026-11-16T05:00:00+02:00" and not first["sla_paused"]
    assert shown[7]["sla_paused"] and shown[7]["missing"] == ["order_number", "screenshot"]

    done, seen = _fresh_process(config, "tickets", "list", "--desk", "serwisant")
    assert seen == {"code": 0, "heavy": []}, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:]] == [
        "SRW-000002", "SRW-000003", "SRW-000001", "SRW-000004"]  # fmt: skip
    assert "2026-11-16 13:00" in lines[2]  # resolution due 12:00 UTC, 13:00 in Warsaw


def test_a_first_look_at_a_fresh_install_creates_the_database(tmp_path: Path) -> None:
    """No file yet: the Database path creates the schema, as `serve` would, and answers."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}")
    assert run(config, "tickets", "list")[1].strip() == "no tickets"
    reader = SqliteReader.open(f"sqlite:///{tmp_path / 'var' / 'mailbot.db'}")
    assert reader is not None  # the schema is there now: the next look takes the quick path
    reader.close()
    assert run(config, "tickets", "list", "--json")[1].strip() == "[]"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--desk", "clevrbox"), "'clevrbox' is no desk; the desks are: cleverbox, cloudempiere,"),
        (("--state", "closd"), "'closd' is not one of 'new', 'open', 'waiting_customer',"),
        (("--limit", "-1"), "-1 is not in the range x>=1"),
        (("--limit", "0"), "0 is not in the range x>=1"),
    ],
    ids=["unknown desk", "unknown state", "negative limit", "zero limit"],
)
def test_a_wrong_filter_is_a_usage_error_not_an_empty_queue(
    tmp_path: Path, args: tuple[str, str], said: str
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    code, out, err = run(config, "tickets", "list", *args)
    assert (code, out) == (2, "")
    assert said in " ".join(err.split()), err


def test_commands_load_on_demand_and_a_typo_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    code, _, err = run(config, "tikets", "list")
    assert code == 2 and "No such command 'tikets'" in err


def test_the_store_names_what_it_has_and_nothing_else() -> None:
    import mailbot.store

    assert mailbot.store.Tickets.__module__ == "mailbot.store.tickets"
    with pytest.raises(AttributeError, match="no attribute 'Tikets'"):
        _ = mailbot.store.Tikets  # type: ignore[attr-defined]
