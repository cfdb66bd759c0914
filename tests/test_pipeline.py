"""The pipeline on SQLite and PostgreSQL: a mail becomes exactly one outcome, in one transaction."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.pipeline import Worker
from mailbot.sender import Sender, make_transport
from mailbot.service import App
from mailbot.store import EventRow, Message, OutboxRow, SpoolItem, Ticket
from tests.conftest import deliver

if TYPE_CHECKING:
    from mailbot.outcomes import Outcome


def _mail(
    subject: str = "Не работает склад",
    *,
    sender: str = "olena@vector.test",
    to: str = "support@cleverbox.test",
    body: str = "Добрый день! Склад не открывается.",
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Олена Коваль <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="vector.test")
    msg["Date"] = "Fri, 20 Nov 2026 17:30:00 +0200"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)


def _run(
    app: App,
    raw: bytes,
    source: str = "smtp",
    rcpt: tuple[str, ...] = ("support@cleverbox.test",),
    mail_from: str | None = "olena@vector.test",
) -> Outcome:
    return deliver(app, raw, rcpt, mail_from, source)


@pytest.fixture
def app(config: Config) -> Iterator[App]:
    application = App.build(config)
    yield application
    application.db.dispose()


def test_new_mail_opens_ticket_with_one_ack_in_one_transaction(app: App) -> None:
    raw = _mail()
    outcome = _run(app, raw)
    assert (
        outcome.outcome == "ticket"
        and outcome.ticket == "CBX-000001"
        and outcome.desk == "cleverbox"
    )
    with Session(app.db.engine) as s:
        ticket = s.exec(select(Ticket)).one()
        assert ticket.subject == "Не работает склад" and ticket.requester == "olena@vector.test"
        assert ticket.received_at.tzinfo is not None
        item = s.exec(select(SpoolItem)).one()
        assert (item.state, item.outcome, item.ticket_id) == ("done", "ticket", ticket.id)
        outbox = s.exec(select(OutboxRow)).one()
        kinds = [e.kind for e in s.exec(select(EventRow).order_by(col(EventRow.id)))]
        assert kinds == ["created", "sla_started", "reply_queued"]
    reply = email.message_from_bytes(outbox.raw, policy=policy.default)
    original = email.message_from_bytes(raw, policy=policy.default)
    assert reply["Subject"] == "[CBX-000001] Не работает склад"
    assert reply["In-Reply-To"] == original["Message-ID"]
    assert original["Message-ID"] in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Message-ID"] == outbox.message_id
    assert reply["To"] == "olena@vector.test"
    body = reply.get_content()
    assert (
        "CBX-000001" in body and "по киевскому времени" in body
    )  # Russian template, deadline in Kyiv time
    assert "Здравствуйте" in body


def test_ticket_numbers_count_per_desk(app: App) -> None:
    assert _run(app, _mail("one")).ticket == "CBX-000001"
    assert _run(app, _mail("two")).ticket == "CBX-000002"
    pl = _mail("Problem z SMS", to="pomoc@serwisant.test", sender="jan@kowalski-serwis.test")
    assert _run(app, pl, rcpt=("pomoc@serwisant.test",)).ticket == "SRW-000001"


def test_reply_to_the_ack_threads_into_the_ticket_without_a_new_ack(app: App) -> None:
    _run(app, _mail())
    with Session(app.db.engine) as s:
        ack_id = s.exec(select(OutboxRow.message_id)).one()
    follow_up = _mail(
        "Re: [CBX-000001] Не работает склад",
        body="Вот скриншот.",
        In_Reply_To=ack_id,
        References=ack_id,
    )
    outcome = _run(app, follow_up)
    assert outcome.outcome == "ticket" and outcome.ticket == "CBX-000001"
    with Session(app.db.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1
        assert len(s.exec(select(OutboxRow)).all()) == 1
        inbound = s.exec(select(Message).where(col(Message.direction) == "in")).all()
        assert [m.body_text.strip() for m in inbound] == [
            "Добрый день! Склад не открывается.",
            "Вот скриншот.",
        ]


def test_ticket_number_in_subject_threads_only_for_the_requester(app: App) -> None:
    _run(app, _mail())
    same = _run(app, _mail("[CBX-000001] ещё вопрос"))
    stranger = _run(app, _mail("[CBX-000001] ещё вопрос", sender="mallory@evil.test"))
    assert same.ticket == "CBX-000001"
    assert stranger.ticket == "CBX-000002"


@pytest.mark.parametrize(
    ("headers", "mail_from", "sender", "why"),
    [
        (
            {"Auto_Submitted": "auto-replied"},
            "olena@vector.test",
            "olena@vector.test",
            "Auto-Submitted",
        ),
        ({"Precedence": "bulk"}, "news@vector.test", "news@vector.test", "Precedence: bulk"),
        (
            {"List_Id": "<users.lists.vector.test>"},
            "list@vector.test",
            "list@vector.test",
            "List-Id",
        ),
        ({}, "", "olena@vector.test", "empty return path"),
        ({}, "mailer-daemon@mx.test", "MAILER-DAEMON@mx.test", "mail system address"),
        ({"X_Mailbot_Loop": "support@other.test"}, "bot@other.test", "bot@other.test", "mailbot"),
    ],
)
def test_machines_get_no_reply_and_it_is_recorded(
    app: App, headers: dict[str, str], mail_from: str, sender: str, why: str
) -> None:
    outcome = _run(app, _mail(sender=sender, **headers), mail_from=mail_from)
    assert (outcome.outcome, outcome.reason) == ("dropped", "auto_reply")
    assert why in (outcome.detail or "")
    with Session(app.db.engine) as s:
        assert not s.exec(select(OutboxRow)).all()
        assert not s.exec(select(Ticket)).all()
        item = s.exec(select(SpoolItem)).one()
        assert (item.state, item.outcome, item.reason) == ("done", "dropped", "auto_reply")
        assert [e.kind for e in s.exec(select(EventRow))] == ["dropped"]


def test_random_bytes_are_quarantined_unparseable_with_raw_kept(app: App) -> None:
    raw = bytes(range(256)) * 8
    outcome = _run(app, raw)
    assert (outcome.outcome, outcome.reason) == ("quarantined", "unparseable")
    assert app.spool.read(outcome.spool_id) == raw


def test_mail_for_no_desk_is_quarantined(app: App) -> None:
    outcome = _run(app, _mail(to="someone@else.test"), source="file", rcpt=())
    assert (outcome.outcome, outcome.reason) == ("quarantined", "no_desk")


def test_file_ingest_counts_from_the_newest_received_header(app: App) -> None:
    raw = (
        b"Received: from mx by mx2; Mon, 16 Nov 2026 10:00:05 +0100\r\n"
        b"Received: from a by mx; Mon, 16 Nov 2026 09:59:00 +0100\r\n" + _mail()
    )
    outcome = _run(app, raw, source="file", rcpt=())
    with Session(app.db.engine) as s:
        ticket = s.exec(select(Ticket).where(col(Ticket.number) == outcome.ticket)).one()
    assert ticket.received_at == datetime(2026, 11, 16, 9, 0, 5, tzinfo=UTC)


def test_a_crash_inside_processing_leaves_nothing_half_done(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception after the ticket row was written rolls everything back; the retry succeeds."""
    import mailbot.tickets as tickets

    calls = {"n": 0}
    original = tickets.queue_reply

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk on fire")
        return original(*args, **kwargs)

    monkeypatch.setattr(tickets, "queue_reply", boom)
    spool_id = app.spool.accept(_mail(), "smtp", rcpt_to=["support@cleverbox.test"])
    worker = Worker(app.pipeline)
    assert worker.run_items(app.spool.claim(worker.name, 1)) == []
    with Session(app.db.engine) as s:
        assert not s.exec(select(Ticket)).all() and not s.exec(select(OutboxRow)).all()
        item = s.exec(select(SpoolItem)).one()
        assert (item.state, item.attempts) == ("received", 1) and "disk on fire" in (
            item.detail or ""
        )
    outcomes = worker.run_items(app.spool.claim(worker.name, 1))
    worker.close()
    assert [o.ticket for o in outcomes] == ["CBX-000001"]
    with Session(app.db.engine) as s:
        assert len(s.exec(select(OutboxRow)).all()) == 1
        assert s.exec(select(SpoolItem)).one().id == spool_id


def test_item_failing_every_time_is_quarantined_after_max_attempts(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailbot.pipeline as pipeline

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(pipeline, "parse", boom)
    app.spool.accept(_mail(), "smtp", rcpt_to=["support@cleverbox.test"])
    good = _mail("second")  # a good mail behind the bad one is not held up
    worker = Worker(app.pipeline)
    for _ in range(3):
        assert worker.run_once() == 1
    monkeypatch.undo()
    app.spool.accept(good, "smtp", rcpt_to=["support@cleverbox.test"])
    outcomes = worker.run_items(app.spool.claim(worker.name, 10))
    worker.close()
    by_outcome = sorted((o.outcome, o.reason or "") for o in outcomes)
    assert by_outcome == [("quarantined", "processing_error"), ("ticket", "")]


def test_sender_delivers_to_maildir_exactly_once(app: App, tmp_path: Path) -> None:
    _run(app, _mail())
    sender = Sender(
        app.db,
        app.config.settings.outbound,
        make_transport(app.config.settings.outbound, app.config.maildir, None),
    )
    assert sender.send_due() == 1
    assert sender.send_due() == 0
    files = list((app.config.maildir / "new").iterdir())
    assert len(files) == 1
    reply = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert reply["Subject"].startswith("[CBX-000001]")
    with Session(app.db.engine) as s:
        row = s.exec(select(OutboxRow)).one()
        assert row.state == "sent" and row.sent_at is not None
        assert row.rcpt_to == ["olena@vector.test"]
        # a resend after a crash (row back to pending) adds no second file
        row.state = "pending"
        s.add(row)
        s.commit()
    sender.send_due()
    assert len(list((app.config.maildir / "new").iterdir())) == 1


def test_auto_replies_to_one_address_are_rate_limited_and_the_ticket_says_why(app: App) -> None:
    """Past the desk's limit (10 an hour) mail is still handled, but not answered."""
    outcomes = [_run(app, _mail(f"вопрос {i}")) for i in range(11)]
    assert [o.outcome for o in outcomes] == ["ticket"] * 11
    with Session(app.db.engine) as s:
        assert len(s.exec(select(OutboxRow)).all()) == 10
        last = s.exec(select(Ticket).where(col(Ticket.number) == outcomes[-1].ticket)).one()
        events = s.exec(select(EventRow).where(col(EventRow.ticket_id) == last.id)).all()
    kinds = [e.kind for e in events]
    assert kinds == ["created", "sla_started", "reply_suppressed"]
    why = events[2].detail["why"]
    assert "rate limit" in why and "olena@vector.test" in why and "limit 10" in why


def test_warm_up_compiles_every_keyword_pattern_a_mail_would_otherwise_wait_for(
    app: App,
) -> None:
    import uuid

    from mailbot.rules import _keywords, compile_patterns

    word = f"модуль{uuid.uuid4().hex[:8]}"  # patterns are shared per phrase: one not seen yet
    fresh = _keywords.KeywordSet.of({"ru": [f"{word} ... не открыва*"]})
    assert fresh.pattern._compiled is None  # built as load_rules builds, not compiled yet
    app.pipeline.warm_up()
    assert fresh.pattern._compiled is not None
    assert compile_patterns() == 0
    assert fresh.matches(f"{word} с утра опять не открывается")
    assert not fresh.matches(f"{word} открывается")
