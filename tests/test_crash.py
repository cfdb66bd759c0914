"""Crash safety: 1,000 mails from concurrent clients while `mailbot serve` is killed with -9.

Clients behave like real MTAs: anything short of 250 (refused connection, dropped session, 4xx)
is retried with the same bytes. After at least three kills at random moments and a final
restart, every mail that got 250 has exactly one ticket and exactly one acknowledgement.
Delivery to the relay is at least once: a kill between the relay's 250 and our commit sends
that acknowledgement again, with the same Message-ID, so the receiver can recognise it; the
test allows such a repeat only as a byte-identical copy and reports how many there were.
"""

from __future__ import annotations

import contextlib
import random
import smtplib
import threading
import time
from collections import Counter, defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from mailbot import config as config_mod
from mailbot.store import Database, Message, OutboxRow, SpoolItem, Ticket
from tests.conftest import write_config
from tests.servers import CatcherProcess, Serve

N_MESSAGES = 500  # the kills are what count: 1,000 took 3 and 2 minutes (SQLite, PostgreSQL) of a
# fresh clone's make test on a slow-disk afternoon, 2,000 took 4.5 of its 15 minutes
N_CLIENTS = 4
DESKS = [
    "support@cleverbox.test",
    "info@grsoft.test",
    "pomoc@serwisant.test",
    "podpora@cloudempiere.test",
    "support@crmonline.test",
]


def _messages() -> list[tuple[str, str, bytes]]:
    out = []
    for i in range(N_MESSAGES):
        msg = EmailMessage()
        msg["From"] = f"customer{i}@example.test"  # one address gets 10 auto-replies an hour
        msg["To"] = DESKS[i % len(DESKS)]
        msg["Subject"] = f"crash test {i}"
        msg["Message-ID"] = f"<crash-{i}@example.test>"
        msg.set_content(f"Message number {i}.\nПроверка {i}.\n")
        out.append((msg["Message-ID"], msg["To"], bytes(msg)))
    return out


def _client(
    port: int,
    work: list[tuple[str, str, bytes]],
    got_250: set[str],
    lock: threading.Lock,
    retries: Counter[str],
) -> None:
    smtp: smtplib.SMTP | None = None
    for message_id, to, raw in work:
        while True:
            try:
                if smtp is None:
                    smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
                smtp.sendmail(f"{message_id[1:-1].split('@')[0]}@example.test", [to], raw)
                with lock:
                    got_250.add(message_id)
                break
            except (OSError, smtplib.SMTPException):
                retries[message_id] += 1
                if smtp is not None:
                    with contextlib.suppress(OSError):
                        smtp.close()
                smtp = None
                time.sleep(0.05)
    if smtp is not None:
        smtp.quit()


@pytest.mark.slow
def test_kill_9_loses_nothing_and_duplicates_nothing(tmp_path: Path, db_url: str) -> None:
    catcher = CatcherProcess(tmp_path / "caught")
    config_path = write_config(tmp_path, db_url, relay=("127.0.0.1", catcher.port))
    config = config_mod.load(config_path, environ={})
    serve = Serve(config_path, config.settings.smtp.port, tmp_path / "serve.log").start()
    messages = _messages()
    got_250: set[str] = set()
    retries: Counter[str] = Counter()
    lock = threading.Lock()
    clients = [
        threading.Thread(
            target=_client, args=(serve.port, messages[k::N_CLIENTS], got_250, lock, retries)
        )
        for k in range(N_CLIENTS)
    ]
    for thread in clients:
        thread.start()

    rng = random.Random(20261122)
    kills = 0
    try:
        while kills < 3 or any(t.is_alive() for t in clients):
            time.sleep(rng.uniform(0.3, 1.5))
            if kills >= 6 and not any(t.is_alive() for t in clients):
                break
            serve.kill9()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            serve.start()
        for thread in clients:
            thread.join(120)
        engine = Database(config.database_url)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with Session(engine.engine) as s:
                left = s.exec(
                    select(func.count())
                    .select_from(SpoolItem)
                    .where(col(SpoolItem.state) == "received")
                ).one()
                pending = s.exec(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(col(OutboxRow.state) == "pending")
                ).one()
            if left == 0 and pending == 0 and len(list(catcher.folder.glob("*.eml"))) >= N_MESSAGES:
                break
            time.sleep(0.5)
        assert serve.terminate() == 0
    finally:
        if serve.alive():
            serve.kill9()
        catcher.stop()

    assert kills >= 3
    assert len(got_250) == N_MESSAGES
    with Session(engine.engine) as s:
        inbound = s.exec(
            select(Message.message_id, Message.ticket_id).where(col(Message.direction) == "in")
        ).all()
        per_id = Counter(m for m, _ in inbound)
        assert set(per_id) == got_250, "a message that got 250 has no ticket"
        assert max(per_id.values()) == 1, "a message was processed twice"
        assert s.exec(select(func.count()).select_from(Ticket)).one() == N_MESSAGES
        outbox = s.exec(select(OutboxRow.ticket_id, OutboxRow.state, OutboxRow.message_id)).all()
        assert Counter(t for t, _, _ in outbox).most_common(1)[0][1] == 1, "two acks for one ticket"
        assert {state for _, state, _ in outbox} == {"sent"}
        assert len(outbox) == N_MESSAGES
        items = s.exec(select(SpoolItem.state, SpoolItem.outcome)).all()
        assert Counter(items) == Counter({("done", "ticket"): N_MESSAGES})
    engine.dispose()

    delivered: dict[str, list[bytes]] = defaultdict(list)
    answered: dict[str, set[str]] = defaultdict(set)
    for path in catcher.folder.glob("*.eml"):
        raw = path.read_bytes()
        reply = raw.split(b"\r\n\r\n", 1)[0].decode()
        fields = dict(
            line.split(": ", 1)
            for line in reply.replace("\r\n ", " ").split("\r\n")
            if ": " in line
        )
        delivered[fields["Message-ID"]].append(raw)
        answered[fields["In-Reply-To"]].add(fields["Message-ID"])
    assert set(answered) == got_250, "a mail that got 250 got no acknowledgement"
    assert all(len(ids) == 1 for ids in answered.values()), "two different acks for one mail"
    repeats = sum(len(copies) - 1 for copies in delivered.values())
    assert all(len(set(copies)) == 1 for copies in delivered.values()), "a repeat differs"
    print(
        f"\n{kills} kills, {sum(retries.values())} client retries, {repeats} repeated deliveries"
        f" (same Message-ID, same bytes) of {N_MESSAGES} acknowledgements"
    )
