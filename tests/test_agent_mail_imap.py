"""The agents' loop when mail comes in by IMAP: the customer's mail and the agent's Reply both
land in the desk's mailbox on a real Dovecot, `mailbot poll --once` takes them in, and the
customer gets the clean answer from the desk address, threaded under their own mail.

Over SMTP the signed address is in the envelope; over IMAP there is no envelope, so the
signed Reply-To must be found in the agent's To header. This is what this test holds.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, col, create_engine, select

from mailbot.agent_address import parse_signed
from mailbot.store import OutboxRow, SpoolItem, Ticket
from tests.conftest import SHIPPED_DESKS, run, write_config
from tests.dovecot import PASSWORD, Dovecot, running_dovecot
from tests.helpers import message

SECRET = "an-imap-test-secret-0123456789"
ENV = {"MAILBOT_IMAP_PASSWORD": PASSWORD, "MAILBOT_AGENT_SECRETS": SECRET}
CUSTOMER_ID = "<sklad-1@vector.test>"
# a Friday in Kyiv's working hours; each mail is appended with its arrival (INTERNALDATE) and
# taken in a minute later (`poll --now`), so the test is the same on any date
ARRIVALS = [datetime(2026, 11, 20, h, m, tzinfo=UTC) for h, m in ((9, 55), (10, 30), (11, 5))]


def taken(at: datetime) -> tuple[str, str]:
    return "--now", at.replace(minute=at.minute + 1).isoformat()


QUOTED = """Склад снова работает: мы перезапустили службу обмена. Проверьте, пожалуйста.

{signature_line}
Олена Коваленко
CleverBox:CRM

{when}, CleverBox:CRM <{reply_to}> пишет:
> CBX-000001: Не открывается склад
> Добрый день! Склад не открывается с утра.
"""


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot()


def queued(db: Path) -> list[tuple[str, EmailMessage]]:
    """(kind, mail) of every mail mailbot queued, oldest first."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
            return [
                (r.kind, email.message_from_bytes(r.raw, policy=policy.default))  # type: ignore[misc]
                for r in rows
            ]
    finally:
        engine.dispose()


def ticket_state(db: Path) -> tuple[list[str], list[str | None], str]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with Session(engine) as s:
            tickets = s.exec(select(Ticket)).all()
            outcomes = [i.outcome for i in s.exec(select(SpoolItem)).all()]
            [ticket] = tickets
            running = "running" if ticket.sla_running_since is not None else "stopped"
            return [t.number for t in tickets], outcomes, running
    finally:
        engine.dispose()


def body(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def test_customer_agent_customer_through_an_imap_mailbox(tmp_path: Path, dovecot: Dovecot) -> None:
    db = tmp_path / "mailbot.db"
    block = f'\n[[imap]]\nname = "support"\nurl = "{dovecot.url()}"\ndesk = "cleverbox"\n'
    config = write_config(tmp_path, f"sqlite:///{db}", extra=block, desks=SHIPPED_DESKS)

    # 1. the customer writes; the mail lands in the desk's mailbox
    dovecot.append(
        [
            message(
                "Не открывается склад",
                "Добрый день! Склад не открывается с утра.",
                message_id=CUSTOMER_ID,
            )
        ],
        when=ARRIVALS[0],
    )
    code, out, err = run(config, "poll", "--once", *taken(ARRIVALS[0]), env=ENV)
    assert code == 0, out + err
    assert "ticket CBX-000001" in out
    notices = {str(m["To"]): m for kind, m in queued(db) if kind == "agent_notice"}
    # CleverBox's level-1 agent works new tickets; the level-2 lead is not bothered
    assert list(notices) == ["duty@cleverbox.test"]
    notice = notices["duty@cleverbox.test"]
    reply_to = str(notice["Reply-To"])
    signed = parse_signed(reply_to)
    assert signed is not None and signed.number == "CBX-000001"
    assert "[CBX-000001]" in str(notice["Subject"])

    # 2. the agent hits Reply: to the signed address, quoting the notice, with commands on top
    answer = message(
        f"Re: {notice['Subject']}",
        "#time 20m\n\n"
        + QUOTED.format(when="20.11.2026 12:01", reply_to=reply_to, signature_line="-- "),
        sender="duty@cleverbox.test",
        name="Олена Коваленко",
        to=reply_to,
        In_Reply_To=str(notice["Message-ID"]),
        References=f"{CUSTOMER_ID} {notice['Message-ID']}",
    )
    dovecot.append([answer], when=ARRIVALS[1])
    code, out, err = run(config, "poll", "--once", *taken(ARRIVALS[1]), env=ENV)
    assert code == 0, out + err
    assert "agent_reply" in out, out
    [to_customer] = [m for kind, m in queued(db) if kind == "agent_reply"]
    [(name, address)] = [(a.display_name, a.addr_spec) for a in to_customer["From"].addresses]
    assert (address, name) == ("support@cleverbox.test", "Олена Коваленко, CleverBox:CRM")
    assert to_customer["To"] == "olena@vector.test"
    assert to_customer["In-Reply-To"] == CUSTOMER_ID
    assert CUSTOMER_ID in str(to_customer["References"])
    assert str(to_customer["Subject"]) == "[CBX-000001] Не открывается склад"
    text = body(to_customer)
    assert text.startswith("Склад снова работает")
    assert "#time" not in text and "пишет:" not in text and "> " not in text
    assert "Auto-Submitted" not in to_customer

    # 3. the customer answers the answer: the same ticket, its clock running, the agent told
    dovecot.append(
        [
            message(
                "Re: [CBX-000001] Не открывается склад",
                "Спасибо, заработало. Но отчёт по складу пустой.",
                In_Reply_To=str(to_customer["Message-ID"]),
            )
        ],
        when=ARRIVALS[2],
    )
    code, out, err = run(config, "poll", "--once", *taken(ARRIVALS[2]), env=ENV)
    assert code == 0, out + err
    numbers, outcomes, clock = ticket_state(db)
    assert numbers == ["CBX-000001"]
    assert outcomes == ["ticket", "agent_reply", "ticket"]
    assert clock == "running"
    follow_ups = [m for kind, m in queued(db) if kind == "agent_notice"]
    assert len(follow_ups) == 2 and "отчёт по складу пустой" in body(follow_ups[-1])
