"""The customer's side of a ticket's life (issue 9): solving tells the customer how to reopen;
a reply within the desk's window reopens the ticket with new deadlines, which escalate on their
own; a later reply, or one to a closed ticket, opens a new ticket that links the old one.

Every mail goes through `mailbot ingest --now` with the shipped desks (CleverBox reopens within
14 days), every act through the CLI with `--now`, and the replies reach a real SMTP catcher.
Due times are worked out in the comments (CleverBox: 24 working hours, 09:00-18:00 Kyiv).
"""

from __future__ import annotations

import json
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailbot import clocks
from mailbot.actions import solve_in
from mailbot.clocks import reopen_until
from mailbot.config import DeskSettings
from mailbot.config import load as load_config
from mailbot.replies import Renderer
from mailbot.service import App
from mailbot.store import Database, Events, Outbox, Ticket, Tickets, TicketState
from tests.conftest import REPO, SHIPPED_DESKS, run, send_all, stdout_of, wait_until, write_config
from tests.helpers import message
from tests.servers import Catcher

OLENA = "olena@vector.test"
ARRIVED = "2026-11-23T10:00+02:00"
"""A Monday in Kyiv: CleverBox's clocks for a mail of then are due Wed 25th 16:00."""


@pytest.fixture
def config(tmp_path: Path, catcher: Catcher) -> Path:
    return write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        desks=SHIPPED_DESKS,
        relay=("127.0.0.1", catcher.port),
    )


def _ingest(config: Path, raw: bytes, now: str) -> dict[str, Any]:
    path = config.parent.parent / f"in-{now.replace(':', '')}.eml"
    path.write_bytes(raw)
    line: dict[str, Any] = json.loads(stdout_of(config, "ingest", "--now", now, str(path)))
    return line


def _request(**overrides: Any) -> bytes:
    """Olena's request to CleverBox, sent when it arrives (ARRIVED)."""
    values: dict[str, Any] = {
        "subject": "Не открывается склад",
        "body": "Добрый день! С утра не открывается модуль склада, ошибка 500.",
        "message_id": "<sklad-1@vector.test>",
        "date": "Mon, 23 Nov 2026 10:00:00 +0200",
    } | overrides
    return message(values.pop("subject"), values.pop("body"), **values)


def _answer(in_reply_to: str, date: str, number: str = "CBX-000001") -> bytes:
    """Olena answers the mail `in_reply_to`, as her mail client does (Message-ID: answer_id)."""
    return message(
        f"Re: [{number}] Не открывается склад",
        "Добрый день! Склад снова не открывается, та же ошибка 500.\n\n> quoted",
        message_id=answer_id(date),
        date=date,
        In_Reply_To=in_reply_to,
        References=in_reply_to,
    )


def answer_id(date: str) -> str:
    return f"<answer-{''.join(c for c in date if c.isalnum())}@vector.test>"


def _show(config: Path, number: str) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    return shown


def _solve(config: Path, number: str, now: str) -> dict[str, Any]:
    out = stdout_of(config, "tickets", "solve", number, "--by", "anna", "--now", now)
    solved: dict[str, Any] = json.loads(out)
    return solved


def _sla_check(config: Path, now: str) -> list[dict[str, Any]]:
    return [
        json.loads(x)
        for x in stdout_of(config, "sla", "check", "--force", "--now", now).splitlines()
    ]


def _reply(config: Path, catcher: Catcher, number: str, kind: str) -> EmailMessage:
    """The one mail of this kind on this ticket, as the catcher received it (sent now)."""
    [wanted] = [r["message_id"] for r in _show(config, number)["replies"] if r["kind"] == kind]
    send_all(config)
    wait_until(f"{kind} of {number}", lambda: wanted in _caught_ids(catcher))
    return next(m for m in catcher.messages() if _id(m) == wanted)


def _id(mail: EmailMessage) -> str:
    """The Message-ID without the folding whitespace a long one is sent with."""
    return str(mail["Message-ID"]).strip()


def _caught_ids(catcher: Catcher) -> set[str]:
    return {_id(m) for m in catcher.messages()}


def _text(mail: EmailMessage) -> str:
    """The plain-text body as one line: names and dates may wrap."""
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())  # type: ignore[attr-defined]


# (desk address, sender, subject, body, language, the window's end as the customer reads it,
#  what says that an answer reopens the request). Solved Mon 23 Nov 09:00 UTC: 14 days later.
SOLVED_CASES = [
    (
        "support@cleverbox.test",
        OLENA,
        "Не відкривається склад",
        "Добрий день! Зранку не відкривається модуль складу, помилка 500. Що робити?",
        "uk",
        "07.12.2026 11:00 за київським часом",
        "звернення буде відкрито знову",
    ),
    (
        "support@cleverbox.test",
        OLENA,
        "Не открывается склад",
        "Добрый день! С утра не открывается модуль склада, ошибка 500. Что делать?",
        "ru",
        "07.12.2026 11:00 по киевскому времени",
        "обращение будет открыто снова",
    ),
    (
        "pomoc@serwisant.test",
        "jan@kowalski-serwis.test",
        "Nie działa wysyłka SMS",
        "Dzień dobry, od rana nie wychodzą SMS-y z powiadomieniami do klientów.",
        "pl",
        "07.12.2026 10:00 czasu warszawskiego",
        "zgłoszenie zostanie ponownie otwarte",
    ),
    (
        "podpora@cloudempiere.test",
        "uctaren@tatralog.test",
        "Chyba pri zaúčtovaní faktúry",
        "Dobrý deň, pri zaúčtovaní faktúry sa zobrazí chyba a doklad sa neuloží. Ďakujem.",
        "sk",
        "07.12.2026 10:00 bratislavského času",
        "požiadavku znovu otvoríme",
    ),
    (
        "podpora@cloudempiere.test",
        "uctaren@tatralog.test",
        "Error when posting an invoice",
        "Hello, when we post an invoice the system shows an error and the document is not"
        " saved. Could you please have a look? Thank you.",
        "en",
        "07.12.2026 10:00 Bratislava time",
        "the request will be reopened",
    ),
    (
        "support@crmonline.test",
        "ali@nemooneh.test",
        "سوال درباره پرتال",
        "سلام، در پرتال گزارش فروش ماهانه را کجا می‌توانم ببینم؟ با تشکر",
        "fa",
        "۱۴۰۵/۰۹/۱۶ ۱۲:۳۰ به وقت تهران",
        "درخواست دوباره باز شود",
    ),
]


@pytest.mark.parametrize(
    ("desk", "sender", "subject", "body", "language", "until", "reopens"),
    SOLVED_CASES,
    ids=[f"{case[0].split('@')[1].split('.')[0]}-{case[4]}" for case in SOLVED_CASES],
)
def test_solving_tells_the_customer_in_their_language_how_to_reopen(
    config: Path,
    catcher: Catcher,
    desk: str,
    sender: str,
    subject: str,
    body: str,
    language: str,
    until: str,
    reopens: str,
) -> None:
    raw = message(subject, body, sender=sender, name="", to=desk, message_id="<q-1@customer.test>",
                  date="Mon, 23 Nov 2026 10:00:00 +0200")  # fmt: skip
    line = _ingest(config, raw, ARRIVED)
    number = line["ticket"]
    assert line["outcome"] == "ticket" and number, line
    solved = _solve(config, number, "2026-11-23T11:00+02:00")
    assert solved["state"] == "solved"

    notice = _reply(config, catcher, number, "solved")
    assert notice["To"] == sender
    assert notice["In-Reply-To"] == "<q-1@customer.test>"  # threaded under the customer's mail
    assert str(notice["Subject"]).startswith(f"[{number}] ")
    assert notice["Content-Language"] == language
    assert notice["Auto-Submitted"] == "auto-replied"  # no vacation reply reopens it
    text = _text(notice)
    assert number in text and until in text and reopens in text
    if language != "fa":
        assert "14" in text  # the window in days, as the desk configures it
    events = [e["kind"] for e in _show(config, number)["events"]]
    assert events.count("solved") == 1


def test_a_reply_within_the_window_reopens_with_new_deadlines_that_escalate(
    config: Path, catcher: Catcher
) -> None:
    line = _ingest(config, _request(), ARRIVED)
    assert line["first_response_due"] == "2026-11-25T16:00:00+02:00"
    # the first run breaches and is solved late
    [breach] = _sla_check(config, "2026-11-25T16:01+02:00")
    assert (breach["kind"], breach["ticket"]) == ("sla_breach", "CBX-000001")
    _solve(config, "CBX-000001", "2026-11-25T17:00+02:00")
    notice = _reply(config, catcher, "CBX-000001", "solved")
    assert "09.12.2026 17:00 по киевскому времени" in _text(notice)  # Wed 25 Nov 17:00 + 14 days
    assert _sla_check(config, "2026-11-26T09:30+02:00") == []  # solved: nothing runs

    # Thu 26 Nov 10:00, a day later, Olena answers the notice: the same ticket, open again
    again = _ingest(config, _answer(_id(notice), "Thu, 26 Nov 2026 10:00:00 +0200"),
                    "2026-11-26T10:00+02:00")  # fmt: skip
    # a new run with the whole 24 h: Thu 8 + Fri 9 = 17, Mon 30th 09:00 + 7 = 16:00
    assert (again["ticket"], again["sla_paused"]) == ("CBX-000001", False)
    assert again["first_response_due"] == "2026-11-30T16:00:00+02:00"
    assert again["resolution_due"] == "2026-11-30T16:00:00+02:00"
    shown = _show(config, "CBX-000001")
    assert shown["state"] == "open"
    assert shown["solved_at"] is None and shown["first_responded_at"] is None
    reopened = next(e for e in shown["events"] if e["kind"] == "reopened")
    assert reopened["previous"] == "solved"
    # her answer, then the reopening and its new run, then the mails it queues: her
    # acknowledgement and the news to the desk's agent
    assert [(e["kind"], e.get("reply"), e.get("to")) for e in shown["events"]][-5:] == [
        ("customer_reply", None, None),
        ("reopened", None, None),
        ("sla_restarted", None, None),
        ("reply_queued", "reopened", OLENA),
        ("reply_queued", "agent_notice", "duty@cleverbox.test"),
    ]

    # the customer is told, threaded under her answer, by when to expect one
    ack = _reply(config, catcher, "CBX-000001", "reopened")
    assert ack["To"] == OLENA and ack["In-Reply-To"] == answer_id("Thu, 26 Nov 2026 10:00:00 +0200")
    assert str(ack["Subject"]) == "[CBX-000001] Не открывается склад"  # her client adds its Re:
    assert "30.11.2026 16:00 по киевскому времени" in _text(ack) and "CBX-000001" in _text(ack)

    # a newer request due later sorts after the reopened one: it has its due time again
    _ingest(config, _request(subject="Не печатается накладная", message_id="<print@vector.test>",
            date="Fri, 27 Nov 2026 10:00:00 +0200"), "2026-11-27T10:00+02:00")  # fmt: skip
    queue = json.loads(stdout_of(config, "tickets", "list", "--json"))
    assert [t["number"] for t in queue] == ["CBX-000001", "CBX-000002"]

    # the reopened run gets its own warning and breach notice, each once
    # Mon 30th 12:00: 8 + 9 + 3 = 20 of 24 working hours = 83 %
    warning = _sla_check(config, "2026-11-30T12:00+02:00")
    assert [(w["ticket"], w["kind"], w["share"]) for w in warning] == [
        ("CBX-000001", "sla_warning", 83)
    ]
    breach = _sla_check(config, "2026-11-30T16:01+02:00")
    assert [(b["ticket"], b["kind"], b["due"]) for b in breach] == [
        ("CBX-000001", "sla_breach", "2026-11-30T16:00:00+02:00")
    ]
    assert [
        b for b in _sla_check(config, "2026-11-30T17:00+02:00") if b["ticket"] == "CBX-000001"
    ] == []
    send_all(config)

    def to_agents() -> list[str]:
        return sorted(
            str(m["Subject"])
            for m in catcher.messages()
            if m["To"] == "duty@cleverbox.test" and "SLA" in str(m["Subject"])
        )

    wait_until("three SLA notices", lambda: len(to_agents()) >= 3)
    assert to_agents() == [
        "[CBX-000001] SLA breach: Не открывается склад",
        "[CBX-000001] SLA breach: Не открывается склад",
        "[CBX-000001] SLA warning: Не открывается склад",
    ]


def test_a_reply_after_the_window_opens_a_new_ticket_that_links_the_old(
    config: Path, catcher: Catcher
) -> None:
    # dates before today's: the sender sends nothing dated in the future
    _ingest(config, _request(date="Mon, 09 Nov 2026 10:00:00 +0200"), "2026-11-09T10:00+02:00")
    _solve(config, "CBX-000001", "2026-11-09T12:00+02:00")
    notice = _reply(config, catcher, "CBX-000001", "solved")
    assert "23.11.2026 12:00 по киевскому времени" in _text(notice)
    # Mon 23 Nov 12:00: the window (14 calendar days) has just closed
    line = _ingest(config, _answer(_id(notice), "Mon, 23 Nov 2026 12:00:00 +0200"),
                   "2026-11-23T12:00+02:00")  # fmt: skip
    assert line["ticket"] == "CBX-000002"
    # its own clocks: Mon 6 + Tue 9 + Wed 9 = 24: due Wed 25 Nov 18:00
    assert line["first_response_due"] == "2026-11-25T18:00:00+02:00"
    new, old = _show(config, "CBX-000002"), _show(config, "CBX-000001")
    assert new["related_to"] == "CBX-000001" and new["state"] == "new"
    # what she wrote, without her client's "Re: " nor the old tag: the link keeps the old number
    assert new["subject"] == "Не открывается склад"
    assert old["state"] == "solved" and old["related_to"] is None
    continues = next(e for e in new["events"] if e["kind"] == "continues")
    assert (continues["ticket"], continues["previous"]) == ("CBX-000001", "solved")
    continued = next(e for e in old["events"] if e["kind"] == "continued_by")
    assert continued["ticket"] == "CBX-000002"
    assert "reopened" not in [e["kind"] for e in old["events"]]

    ack = _reply(config, catcher, "CBX-000002", "reopened_as_new")
    assert ack["To"] == OLENA
    assert ack["In-Reply-To"] == answer_id("Mon, 23 Nov 2026 12:00:00 +0200")
    assert str(ack["Subject"]) == "[CBX-000002] Не открывается склад"  # the new tag only
    text = _text(ack)
    assert (
        "CBX-000001" in text
        and "CBX-000002" in text
        and "25.11.2026 18:00 по киевскому времени" in text
    )
    assert "слишком давно" in text

    # her next answer, to that acknowledgement, stays in the new ticket
    more = _ingest(config, _answer(_id(ack), "Mon, 23 Nov 2026 13:00:00 +0200",
                                   number="CBX-000002"), "2026-11-23T13:00+02:00")  # fmt: skip
    assert more["ticket"] == "CBX-000002"
    assert _show(config, "CBX-000002")["state"] == "new"


def test_a_reply_to_a_closed_ticket_opens_a_new_ticket(config: Path, catcher: Catcher) -> None:
    _ingest(config, _request(), ARRIVED)
    _solve(config, "CBX-000001", "2026-11-23T12:00+02:00")
    notice = _reply(config, catcher, "CBX-000001", "solved")
    app = App.build(load_config(config, environ={}))
    with app.db.transaction() as session:  # what an agent's `#status closed` leaves
        closed = Tickets(session).by_number("CBX-000001")
        assert closed is not None
        closed.state = TicketState.closed
        session.add(closed)
    app.db.dispose()
    # an hour later: well within the window, but closed is final
    line = _ingest(config, _answer(_id(notice), "Mon, 23 Nov 2026 13:00:00 +0200"),
                   "2026-11-23T13:00+02:00")  # fmt: skip
    assert line["ticket"] == "CBX-000002"
    assert _show(config, "CBX-000002")["related_to"] == "CBX-000001"
    assert _show(config, "CBX-000001")["state"] == "closed"
    text = _text(_reply(config, catcher, "CBX-000002", "reopened_as_new"))
    assert "CBX-000001 закрыто" in text and "CBX-000002" in text


def test_solving_twice_is_refused_and_tells_the_customer_once(
    config: Path, catcher: Catcher
) -> None:
    _ingest(config, _request(), ARRIVED)
    _solve(config, "CBX-000001", "2026-11-23T12:00+02:00")
    twice = run(config, "tickets", "solve", "CBX-000001", "--now", "2026-11-23T12:05+02:00")
    assert twice.code == 3 and "already solved" in twice.err
    replies = [(r["kind"], r["to"]) for r in _show(config, "CBX-000001")["replies"]]
    assert [kind for kind, to in replies if to == [OLENA]] == ["ack", "solved"]
    # the refused solve queued nothing for the agent either: only the news of her request
    assert [r for r in replies if r[1] != [OLENA]] == [("agent_notice", ["duty@cleverbox.test"])]


def test_old_mail_reopens_without_a_reply_and_settles_its_past_deadlines(config: Path) -> None:
    """Olena's answer arrived Thu 26 Nov 10:00 but is taken in a week later (a mailbox read
    after an outage): the ticket reopens as of her answer, its new deadline (Mon 30th 16:00) is
    already past and settled without a notice, and she gets no acknowledgement."""
    _ingest(config, _request(), ARRIVED)
    _solve(config, "CBX-000001", "2026-11-25T17:00+02:00")
    solved_id = next(
        r["message_id"] for r in _show(config, "CBX-000001")["replies"] if r["kind"] == "solved"
    )
    line = _ingest(config, _answer(solved_id, "Thu, 26 Nov 2026 10:00:00 +0200"),
                   "2026-12-03T10:00+02:00")  # fmt: skip
    assert (line["ticket"], line["reason"]) == ("CBX-000001", "old_mail")
    assert line["first_response_due"] == "2026-11-30T16:00:00+02:00"
    shown = _show(config, "CBX-000001")
    assert shown["state"] == "open"
    replies = [(r["kind"], r["to"]) for r in shown["replies"]]
    assert [kind for kind, to in replies if to == [OLENA]] == ["ack", "solved"]
    # nor is the agent sent her week-old answer: only the news of her first request
    assert [r for r in replies if r[1] != [OLENA]] == [("agent_notice", ["duty@cleverbox.test"])]
    suppressed = [e for e in shown["events"] if e["kind"] == "reply_suppressed"]
    assert [(e["reply"], e["to"], e["reason"]) for e in suppressed] == [
        ("reopened", OLENA, "old_mail"),
        ("agent_notice", "duty@cleverbox.test", "old_mail"),
    ]
    assert _sla_check(config, "2026-12-03T10:05+02:00") == []  # settled at intake


@pytest.mark.parametrize(
    ("solved", "days", "until"),
    [
        # 14 calendar days across the spring change (Kyiv: +02:00 -> +03:00 on 28 March)
        ("2027-03-20T12:00+02:00", 14, "2027-04-03T12:00:00+03:00"),
        ("2026-11-23T12:00+02:00", 0, "2026-11-23T12:00:00+02:00"),
        ("2026-11-23T12:00+02:00", 1.5, "2026-11-25T00:00:00+02:00"),
    ],
)
def test_the_window_counts_calendar_days_on_the_desks_clock(
    solved: str, days: float, until: str
) -> None:
    desk = DeskSettings(
        name="cleverbox",
        addresses=["support@cleverbox.test"],
        timezone="Europe/Kyiv",
        ticket_prefix="CBX",
        reopen_within_days=days,
    )
    end = reopen_until(desk, datetime.fromisoformat(solved))
    assert end == datetime.fromisoformat(until)
    assert end.utcoffset() == datetime.fromisoformat(until).utcoffset()


def test_edge_cases_on_the_store(tmp_path: Path) -> None:
    """A ticket without a requester is solved without a notice (nobody to tell), and a reopened
    ticket that no target of the desk matches any more runs no clock and says why."""
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade()
    desk = DeskSettings(
        name="cloudempiere",
        addresses=["podpora@cloudempiere.test"],
        timezone="Europe/Bratislava",
        ticket_prefix="CEM",
        calendars={"office": {"hours": {"mon-fri": "08:00-17:00"}}},
        sla={"calendar": "office", "targets": [{"priority": "P1", "first_response": 1}]},
    )
    renderer = Renderer(REPO / "templates")
    at = datetime.fromisoformat("2026-11-23T10:00+01:00")
    try:
        with db.transaction() as session:
            ticket = Tickets(session).add(
                Ticket(desk=desk.name, number="CEM-000001", subject="Import", requester="",
                       state=TicketState.open, priority="P1", received_at=at, created_at=at,
                       updated_at=at)
            )  # fmt: skip
            solve_in(session, desk, renderer, ticket, by="anna", now=at)
            assert ticket.state == TicketState.solved and Outbox(session).of_ticket(ticket.id) == []
            ticket.priority = "P3"  # re-labelled since: no target matches P3
            clocks.reopen(session, desk, None, ticket, {"priority": "P3"}, since=at, now=at)
            assert ticket.sla_clock is None and ticket.first_response_due is None
            assert [e.kind for e in Events(session).of_ticket(ticket.id)] == ["solved", "sla_none"]
    finally:
        db.dispose()
