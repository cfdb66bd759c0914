"""Two `mailbot sla check` runs at once (cron beside `serve`) send each notice once.

The race is made certain, not hoped for: the test holds the database's writers back until
both runs have read the tickets and wait to write, then lets them go together. Before the
fix each run decided from what it had read and both sent every notice.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import policy
from pathlib import Path

from sqlalchemy import text

from mailbot.store import Database
from tests.conftest import SHIPPED_DESKS, send_all, wait_until, write_config
from tests.servers import mailbot_cli

MODULES = ["склад", "касса", "отчёты"]


def _mail(number: int, module: str) -> bytes:
    """A request from the CleverBox customer's contact, one per broken module."""
    return (
        "Received: from mx.vector.test by mx.cleverbox.test; Mon, 23 Nov 2026 10:00:00 +0200\r\n"
        "From: olena@vector.test\r\nTo: support@cleverbox.test\r\n"
        f"Subject: Не открывается {module}\r\nMessage-ID: <request-{number}@vector.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Добрый день! С утра не открывается модуль «{module}».\r\n"
    ).encode()


def _sla_check(config: Path, now: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailbot",
            "--config",
            str(config),
            "sla",
            "check",
            "--force",
            "--now",
            now,
        ],
        env={**os.environ, "MAILBOT_CONFIG": str(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _blocked_on_flock(pids: set[int]) -> set[int]:
    """Processes among `pids` waiting for a file lock (/proc/locks marks waiters with ->)."""
    waiting = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "->" and int(fields[5]) in pids:
            waiting.add(int(fields[5]))
    return waiting


@contextmanager
def _writers_held(db: Database) -> Iterator[Callable[[set[int]], bool]]:
    """Hold every writer back; yields a check that the given processes are waiting for us."""
    if not db.is_postgres:
        with db.writing():  # the writers' lock every SQLite write transaction takes first
            yield lambda pids: _blocked_on_flock(pids) == pids
        return
    with db.transaction() as session:
        # reads go on; locking a ticket row or writing an event or an outbox row waits
        session.execute(text("LOCK TABLE ticket, event, outbox IN EXCLUSIVE MODE"))
        me = session.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def both_waiting(pids: set[int]) -> bool:
            with db.reading() as observer:  # a fresh transaction sees current activity
                count = observer.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE :me = ANY(pg_blocking_pids(pid))"
                    ),
                    {"me": me},
                ).scalar_one()
            return int(count) >= len(pids)

        yield both_waiting


def _race(config: Path, db: Database, now: str) -> list[dict[str, object]]:
    """Both runs read before either writes; returns every notice either printed."""
    with _writers_held(db) as waiting_for_us:
        runs = [_sla_check(config, now), _sla_check(config, now)]
        pids = {run.pid for run in runs}
        try:
            wait_until("both sla check runs wait to write", lambda: waiting_for_us(pids))
        except TimeoutError:
            for run in runs:
                run.kill()
                run.communicate()
            raise
    printed = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        printed += [json.loads(line) for line in out.splitlines()]
    return printed


def _notices_delivered(config: Path) -> Counter[tuple[str, str]]:
    """(ticket number, notice) of each SLA mail in the outbound maildir, after sending all."""
    send_all(config)
    found: Counter[tuple[str, str]] = Counter()
    for path in (config.parent.parent / "sent" / "new").iterdir():
        subject = str(email.message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])
        number, _, rest = subject.partition("] ")
        if rest.startswith("SLA "):
            found[(number.lstrip("["), rest.split(":")[0])] += 1
    return found


def test_two_concurrent_sla_checks_send_each_notice_once(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, db_url, desks=SHIPPED_DESKS)  # CleverBox: duty@ is agent
    mails = []
    for number, module in enumerate(MODULES):
        mails.append(tmp_path / f"{number}.eml")
        mails[-1].write_bytes(_mail(number, module))
    # taken in the moment they arrived (not as old mail, which starts no escalation)
    ingested = mailbot_cli(config, "ingest", "--now", "2026-11-23T10:00+02:00", *map(str, mails))
    assert ingested.returncode == 0, ingested.stderr
    lines = [json.loads(line) for line in ingested.stdout.splitlines()]
    assert {line["resolution_due"] for line in lines} == {"2026-11-25T16:00:00+02:00"}
    numbers = sorted(line["ticket"] for line in lines)
    db = Database(db_url)
    try:
        # Wed 12:00: 20 of 24 working hours used, past warn_at; Wed 16:01: past the deadline
        warnings = _race(config, db, "2026-11-25T12:00+02:00")
        breaches = _race(config, db, "2026-11-25T16:01+02:00")
    finally:
        db.dispose()
    assert sorted((n["ticket"], n["kind"]) for n in warnings) == [
        (number, "sla_warning") for number in numbers
    ]
    assert sorted((n["ticket"], n["kind"]) for n in breaches) == [
        (number, "sla_breach") for number in numbers
    ]
    delivered = _notices_delivered(config)
    assert delivered == Counter(
        {(number, kind): 1 for number in numbers for kind in ("SLA warning", "SLA breach")}
    )
