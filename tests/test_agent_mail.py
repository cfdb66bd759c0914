"""Agents answer from their mail client: the notice with a signed Reply-To, the agent's Reply,
the clean answer to the customer, and every way a forged "agent" mail is turned away.

The forgery matrix and the edge cases run the real pipeline in this process (`deliver`, real
SQLite, real spool); one conversation runs over real SMTP against `mailbot serve` and the
catcher, as a customer and an agent would live it.
"""

from __future__ import annotations

import email
import email.utils
import smtplib
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from mailbot import actions
from mailbot.agent_address import parse_signed, signature, signed_address, verify
from mailbot.agent_reply import clean
from mailbot.config import load as load_config
from mailbot.pipeline import dry_run_bytes
from mailbot.service import App
from mailbot.store import Message, OutboxRow, SpoolItem, Ticket
from tests.conftest import deliver, write_config
from tests.helpers import NOW, build_app, message
from tests.servers import Catcher, Serve

AGENT_REPLIES = Path(__file__).resolve().parent / "agent_replies"

CLEVERBOX = """
name = "cleverbox"
title = "CleverBox:CRM"
addresses = ["support@cleverbox.test"]
language = "ru"
timezone = "Europe/Kyiv"
ticket_prefix = "CBX"
rules = ["loops", "oversized"]
agents = [
  { address = "duty@cleverbox.test", name = "Olena Kovalenko", level = 1 },
  { address = "lead@cleverbox.test", name = "Andrii Melnyk", level = 1 },
]
[rule.oversized]
max_attachment_bytes = 2000
max_total_bytes = 100000
"""
GRSOFT = """
name = "grsoft"
title = "GRSoft"
addresses = ["info@grsoft.test"]
language = "ru"
timezone = "Europe/Moscow"
ticket_prefix = "GRS"
rules = []
agents = [{ address = "dezhurny@grsoft.test", name = "Dezhurny" }]
agent_authentication = { trusted_hosts = ["mx.grsoft.test"] }
"""
SECRET = "a-test-secret-long-enough-0123456789"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("MAILBOT_AGENT_SECRETS", SECRET)
    built = build_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", {"cb": CLEVERBOX, "gr": GRSOFT})
    yield built
    built.db.dispose()


def outbox(app: App) -> list[tuple[str, EmailMessage]]:
    """(kind, mail) of every queued mail, oldest first."""
    with Session(app.db.engine) as s:
        rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
    return [
        (r.kind, email.message_from_bytes(r.raw, policy=policy.default))  # type: ignore[misc]
        for r in rows
    ]


def body(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


def sender_of(mail: EmailMessage) -> tuple[str, str]:
    [address] = mail["From"].addresses
    return address.display_name, address.addr_spec


def to_customer(app: App) -> list[EmailMessage]:
    return [m for kind, m in outbox(app) if m["To"] == "olena@vector.test" and kind != "ack"]


def agent_mail(
    signed: str | None,
    text: str,
    *,
    sender: str = "duty@cleverbox.test",
    in_reply_to: str = "",
    subject: str = "Re: [CBX-000001] Не открывается склад",
    **headers: str,
) -> bytes:
    extra = {"In_Reply_To": in_reply_to} if in_reply_to else {}
    return message(
        subject,
        text,
        sender=sender,
        name="Olena Kovalenko",
        to=signed or "support@cleverbox.test",
        **extra,
        **headers,
    )


def open_ticket(app: App) -> tuple[str, dict[str, EmailMessage]]:
    """A customer's mail opens CBX-000001; its Message-ID and the notices by agent."""
    customer_id = "<first@vector.test>"
    raw = message(
        "Не открывается склад", "Добрый день! Склад не открывается.", message_id=customer_id
    )
    outcome = deliver(app, raw)
    assert (outcome.outcome, outcome.ticket) == ("ticket", "CBX-000001")
    notices = {str(m["To"]): m for kind, m in outbox(app) if kind == "agent_notice"}
    return customer_id, notices


def signed_for(app: App, agent: str, number: str = "CBX-000001") -> str:
    return signed_address("support@cleverbox.test", number, agent, app.pipeline.agent_secrets)


REPLY = """Олена, добрый день!

Перезапустите службу склада: Настройки → Службы.

--\x20
Olena Kovalenko

20.11.2026 12:00, CleverBox:CRM пишет:
> CBX-000001: Не открывается склад
> Добрый день! Склад не открывается.
"""


def test_notice_reply_answer_and_follow_up_in_process(app: App) -> None:
    customer_id, notices = open_ticket(app)
    assert sorted(notices) == ["duty@cleverbox.test", "lead@cleverbox.test"]
    notice = notices["duty@cleverbox.test"]
    signed = parse_signed(str(notice["Reply-To"]))
    assert signed is not None and signed.number == "CBX-000001"
    assert verify(app.pipeline.agent_secrets, signed, "duty@cleverbox.test")
    assert not verify(app.pipeline.agent_secrets, signed, "lead@cleverbox.test")
    assert notice["Subject"] == "[CBX-000001] Не открывается склад"
    assert "Склад не открывается" in body(notice)

    raw = agent_mail(str(notice["Reply-To"]), REPLY, in_reply_to=str(notice["Message-ID"]))
    outcome = deliver(app, raw, rcpt=str(notice["Reply-To"]))
    assert (outcome.outcome, outcome.ticket, outcome.reason) == ("agent_reply", "CBX-000001", None)

    [answer] = to_customer(app)
    assert sender_of(answer) == ("Olena Kovalenko, CleverBox:CRM", "support@cleverbox.test")
    assert answer["In-Reply-To"] == customer_id and customer_id in answer["References"]
    assert answer["Subject"] == "[CBX-000001] Не открывается склад"
    assert answer["Auto-Submitted"] is None
    text = body(answer)
    assert "Перезапустите службу склада" in text
    assert "пишет:" not in text and "> " not in text and text.count("Olena Kovalenko") == 1
    with Session(app.db.engine) as s:
        ticket = s.exec(select(Ticket)).one()
        assert ticket.first_responded_at is not None
        stored = s.exec(
            select(Message).where(col(Message.author).is_not(None), Message.direction == "in")
        ).one()
        assert stored.author == "duty@cleverbox.test"
        assert stored.body_text.startswith("Олена, добрый день!")

    reply = message(
        "Re: [CBX-000001] Не открывается склад",
        "Спасибо, заработало. А отчёты?",
        In_Reply_To=str(answer["Message-ID"]),
    )
    follow = deliver(app, reply)
    assert (follow.outcome, follow.ticket, follow.follow_up) == ("ticket", "CBX-000001", True)
    again = [m for kind, m in outbox(app) if kind == "agent_notice"][2:]
    assert sorted(str(m["To"]) for m in again) == ["duty@cleverbox.test", "lead@cleverbox.test"]
    assert "А отчёты?" in body(again[0]) and "клиент написал снова" in body(again[0])


FORGERIES = {
    "no signature": lambda app: ("support@cleverbox.test", "duty@cleverbox.test"),
    "wrong ticket": lambda app: (
        "support+cbx-000002."
        + signature(app.pipeline.agent_secrets.signing, "CBX-000001", "duty@cleverbox.test")
        + "@cleverbox.test",
        "duty@cleverbox.test",
    ),
    "other agent": lambda app: (signed_for(app, "lead@cleverbox.test"), "duty@cleverbox.test"),
    "stranger": lambda app: (signed_for(app, "duty@cleverbox.test"), "mallory@evil.test"),
    "tampered": lambda app: (
        signed_for(app, "duty@cleverbox.test")[:-20] + "aaaa" + signed_for(app, "x")[-16:],
        "duty@cleverbox.test",
    ),
}


@pytest.mark.parametrize("check", list(FORGERIES))
def test_forged_agent_mail_is_quarantined_and_reaches_no_customer(app: App, check: str) -> None:
    open_ticket(app)
    address, sender = FORGERIES[check](app)
    raw = agent_mail(address, "Вам вернут деньги, пришлите номер карты.", sender=sender)
    outcome = deliver(app, raw, rcpt=address)
    assert (outcome.outcome, outcome.reason) == ("quarantined", "forged_agent_reply")
    assert outcome.detail is not None and outcome.detail.startswith(check + ":"), outcome.detail
    assert to_customer(app) == []


def test_signed_address_of_a_ticket_that_does_not_exist(app: App) -> None:
    open_ticket(app)
    address = signed_for(app, "duty@cleverbox.test", "CBX-000077")
    outcome = deliver(app, agent_mail(address, "Ответ"), rcpt=address)
    assert (outcome.reason, outcome.detail) == (
        "forged_agent_reply",
        "wrong ticket: CBX-000077 is no ticket of cleverbox",
    )


def test_vacation_auto_reply_of_an_agent_is_dropped_not_relayed(app: App) -> None:
    _, notices = open_ticket(app)
    address = str(notices["duty@cleverbox.test"]["Reply-To"])
    raw = agent_mail(address, "I am on leave until Monday.", Auto_Submitted="auto-replied")
    outcome = deliver(app, raw, rcpt=address)
    assert (outcome.outcome, outcome.reason) == ("dropped", "auto_reply")
    assert to_customer(app) == []


def test_vacation_reply_is_dropped_even_where_the_desk_runs_no_loop_rule(app: App) -> None:
    address = grsoft_ticket(app)
    raw = agent_mail(
        address, "В отпуске до понедельника.", sender="dezhurny@grsoft.test", X_Autoreply="yes"
    )
    outcome = deliver(app, raw, rcpt=address)
    assert (outcome.outcome, outcome.reason) == ("dropped", "auto_reply")


def test_dry_run_of_an_agent_answer_predicts_it_and_writes_nothing(app: App) -> None:
    _, notices = open_ticket(app)
    address = str(notices["duty@cleverbox.test"]["Reply-To"])
    line = dry_run_bytes(app.pipeline, agent_mail(address, "Готово."), None)
    assert (line["outcome"], line["ticket"], line["dry_run"]) == ("agent_reply", "CBX-000001", True)
    big = dry_run_bytes(app.pipeline, agent_mail_with(address, 5000), None)
    assert (big["outcome"], big["reason"]) == ("agent_reply", "oversized")
    assert to_customer(app) == []


def test_answer_to_a_solved_ticket_is_refused_and_the_agent_told(app: App) -> None:
    _, notices = open_ticket(app)
    actions.solve(app.db, app.config, app.renderer, "CBX-000001", by="lead", now=NOW)
    address = str(notices["duty@cleverbox.test"]["Reply-To"])
    outcome = deliver(app, agent_mail(address, "Ещё одно уточнение."), rcpt=address)
    assert (outcome.outcome, outcome.reason) == ("agent_reply", "agent_command_refused")
    # the customer was told the lead solved it, and got nothing of the refused answer
    customer = [kind for kind, m in outbox(app) if m["To"] == "olena@vector.test"]
    assert customer == ["ack", "solved"]
    kind, told = outbox(app)[-1]
    assert (kind, told["To"]) == ("agent_command_refused", "duty@cleverbox.test")
    assert "НЕ отправлен клиенту" in body(told) and "solved" in body(told)
    assert "#status waiting|solved|closed" in body(told)
    with Session(app.db.engine) as s:
        assert s.exec(select(Message).where(col(Message.author).is_not(None))).all() == []


def agent_mail_with(address: str, size: int) -> bytes:
    msg = email.message_from_bytes(
        agent_mail(address, "Скриншот во вложении."), policy=policy.default
    )
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(
        b"\x89PNG\r\n\x1a\n" + b"\0" * size, maintype="image", subtype="png", filename="экран.png"
    )
    return msg.as_bytes(policy=policy.SMTP)


def test_attachments_pass_the_desks_rules_and_go_to_the_customer(app: App) -> None:
    _, notices = open_ticket(app)
    address = str(notices["duty@cleverbox.test"]["Reply-To"])
    too_big = deliver(app, agent_mail_with(address, 5000), rcpt=address)
    assert (too_big.outcome, too_big.reason) == ("agent_reply", "oversized")
    assert to_customer(app) == []
    assert outbox(app)[-1][0] == "agent_command_refused"
    assert "экран.png" in body(outbox(app)[-1][1])

    fine = deliver(app, agent_mail_with(address, 500), rcpt=address)
    assert (fine.outcome, fine.reason) == ("agent_reply", None)
    [answer] = to_customer(app)
    [attached] = list(answer.iter_attachments())
    assert attached.get_filename() == "экран.png"
    assert attached.get_content_type() == "image/png"
    assert len(attached.get_content()) == 508  # type: ignore[attr-defined]


def grsoft_ticket(app: App) -> str:
    raw = message(
        "Ошибка в отчёте", "Отчёт пустой.", sender="ivan@client.test", to="info@grsoft.test"
    )
    assert deliver(app, raw, rcpt="info@grsoft.test").ticket == "GRS-000001"
    return signed_address(
        "info@grsoft.test", "GRS-000001", "dezhurny@grsoft.test", app.pipeline.agent_secrets
    )


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (None, False),
        ("mx.grsoft.test; dkim=pass header.d=grsoft.test header.s=s1", True),
        (
            "mx.grsoft.test; spf=pass smtp.mailfrom=grsoft.test;"
            " dmarc=pass header.from=grsoft.test",
            True,
        ),
        ("mx.grsoft.test; dkim=fail header.d=grsoft.test", False),
        ("mx.grsoft.test; dkim=pass header.d=evil.test", False),
        ("mx.evil.test; dkim=pass header.d=grsoft.test", False),
        ("this is ;; not = a header", False),
    ],
)
def test_desk_requiring_authentication(app: App, header: str | None, accepted: bool) -> None:
    address = grsoft_ticket(app)
    headers = {"Authentication_Results": header} if header else {}
    raw = agent_mail(
        address, "Исправлено.", sender="dezhurny@grsoft.test", subject="Re: [GRS-000001]", **headers
    )
    outcome = deliver(app, raw, rcpt=address)
    if accepted:
        assert (outcome.outcome, outcome.reason) == ("agent_reply", None)
    else:
        assert (outcome.outcome, outcome.reason) == ("quarantined", "forged_agent_reply")
        assert outcome.detail is not None and outcome.detail.startswith("no auth pass:")
        assert "mx.grsoft.test" in outcome.detail


def test_old_mail_gets_no_notice_and_the_history_says_why(app: App) -> None:
    raw = message("Старое письмо", "Склад.", date="Mon, 02 Nov 2026 09:00:00 +0200")
    outcome = deliver(app, raw, source="file")
    assert (outcome.outcome, outcome.reason) == ("ticket", "old_mail")
    assert [kind for kind, _ in outbox(app)] == []
    with Session(app.db.engine) as s:
        item = s.exec(select(SpoolItem)).one()
        assert item.outcome == "ticket"
    from mailbot.store import Events

    with Session(app.db.engine) as s:
        events = Events(s).of_ticket(1)
    held = [e.detail for e in events if e.kind == "reply_suppressed"]
    assert {d["reply"] for d in held} == {"ack", "agent_notice"}
    assert {d["to"] for d in held if d["reply"] == "agent_notice"} == {
        "duty@cleverbox.test",
        "lead@cleverbox.test",
    }


@pytest.mark.parametrize("case", sorted(p.stem for p in AGENT_REPLIES.glob("*.txt")))
def test_labelled_agent_replies_are_stripped_exactly(case: str) -> None:
    text, _, expected = (AGENT_REPLIES / f"{case}.txt").read_text().partition("\n#### expected\n")
    assert clean(text) == expected.strip("\n")


def test_a_reply_without_any_quote_is_kept_whole() -> None:
    assert clean("Done.\n\nSee you") == "Done.\n\nSee you"
    assert clean("") == ""


# -- the whole conversation over real SMTP -------------------------------------------------


def test_conversation_over_smtp_with_serve_and_catcher(tmp_path: Path, catcher: Catcher) -> None:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "cleverbox.toml").write_text(
        CLEVERBOX.replace('"Andrii Melnyk", level = 1', '"Andrii Melnyk", level = 2'),
        encoding="utf-8",
    )
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks, relay=("127.0.0.1", catcher.port)
    )
    port = load_config(path, environ={}).settings.smtp.port
    serve = Serve(path, port, tmp_path / "serve.log").start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            first = message(
                "Не открывается склад",
                "Склад не открывается с утра.",
                message_id="<c1@vector.test>",
            )
            smtp.sendmail("olena@vector.test", ["support@cleverbox.test"], first)
        notice, ack = sorted(catcher.wait_for(2), key=lambda m: str(m["To"]))
        assert (ack["To"], notice["To"]) == ("olena@vector.test", "duty@cleverbox.test")
        reply_to = str(notice["Reply-To"])
        assert reply_to.startswith("support+cbx-000001.") and reply_to.endswith("@cleverbox.test")
        assert notice["Subject"] == "[CBX-000001] Не открывается склад"

        answer_raw = agent_mail(reply_to, REPLY, in_reply_to=str(notice["Message-ID"]))
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("duty@cleverbox.test", [reply_to], answer_raw)
        answer = catcher.wait_for(3)[-1]
        assert answer["To"] == "olena@vector.test"
        assert sender_of(answer) == ("Olena Kovalenko, CleverBox:CRM", "support@cleverbox.test")
        assert answer["In-Reply-To"] == "<c1@vector.test>"
        assert "<c1@vector.test>" in answer["References"]
        assert answer["Subject"] == "[CBX-000001] Не открывается склад"
        text = body(answer)
        assert "Перезапустите службу склада" in text and "пишет:" not in text and ">" not in text

        again = message(
            "Re: [CBX-000001] Не открывается склад",
            "Спасибо! А отчёты?",
            message_id="<c2@vector.test>",
            In_Reply_To=str(answer["Message-ID"]),
        )
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("olena@vector.test", ["support@cleverbox.test"], again)
        notice2 = catcher.wait_for(4)[-1]
        assert notice2["To"] == "duty@cleverbox.test"
        assert notice2["Reply-To"] == reply_to
        assert notice2["In-Reply-To"] == "<c2@vector.test>"
        assert "А отчёты?" in body(notice2)
    finally:
        assert serve.terminate() == 0, (tmp_path / "serve.log").read_text()[-3000:]
