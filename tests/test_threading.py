"""Threading by the subject tag: found after any client's reply prefix and in the spellings
clients mangle it into, never across desks or customers; In-Reply-To/References first."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy

import pytest
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.service import App
from mailbot.store import OutboxRow, Ticket
from mailbot.subjects import bare_subject, strip_reply_prefixes, ticket_numbers
from tests.conftest import deliver
from tests.helpers import ack_id, message

CUSTOMER = "olena@vector.test"
CLEVERBOX = "support@cleverbox.test"


@pytest.fixture
def app(config: Config) -> Iterator[App]:
    application = App.build(config)
    yield application
    application.db.dispose()


def _write(
    app: App, subject: str, *, sender: str = CUSTOMER, to: str = CLEVERBOX, **headers: str
) -> str:
    """The ticket a customer's mail ended in."""
    outcome = deliver(app, message(subject, "Добрый день!", sender=sender, to=to, **headers), to)
    assert outcome.outcome == "ticket", outcome
    assert outcome.ticket is not None
    return outcome.ticket


def _tickets(app: App) -> list[str]:
    with Session(app.db.engine) as s:
        return list(s.exec(select(Ticket.number).order_by(col(Ticket.number))).all())


def _reply_subjects(app: App) -> list[str]:
    with Session(app.db.engine) as s:
        rows = s.exec(select(OutboxRow.raw).order_by(col(OutboxRow.id))).all()
    return [str(email.message_from_bytes(raw, policy=policy.default)["Subject"]) for raw in rows]


MANGLED = [
    "Re: [CBX-000001] Склад",
    "RE: [CBX-000001] Склад",
    "AW: [CBX-000001] Склад",
    "Odp: [CBX-000001] Склад",
    "Отв: [CBX-000001] Склад",
    "Ответ: [CBX-000001] Склад",
    "Відп: [CBX-000001] Склад",
    "Re[2]: [CBX-000001] Склад",
    "پاسخ: [CBX-000001] Склад",
    "FW: [CBX-000001] Склад",
    "Fwd: [CBX-000001] Склад",
    "PD: [CBX-000001] Склад",
    "Пересл: [CBX-000001] Склад",
    "Re: RE: AW: Fwd: Re[3]: [CBX-000001] Склад",
    "Re: ［CBX-000001］ Склад",
    "پاسخ: \u200f]CBX-000001[\u200f انبار",
    "Re: [ CBX-000001 ] Склад",
    "Re: [cbx-000001] Склад",
    "Re: (CBX-000001) Склад",
    "Склад, дополнение [CBX-000001]",
]


def test_a_reply_with_any_prefix_or_mangled_tag_continues_the_ticket(app: App) -> None:
    assert _write(app, "Склад") == "CBX-000001"
    for subject in MANGLED:
        assert _write(app, subject) == "CBX-000001", subject
    assert _tickets(app) == ["CBX-000001"]


def test_the_tag_of_another_desk_or_a_longer_prefix_opens_a_new_ticket(app: App) -> None:
    assert _write(app, "Склад") == "CBX-000001"
    # the same customer writes to another desk quoting our number: that desk's own ticket
    assert _write(app, "Re: [CBX-000001] SMS", to="pomoc@serwisant.test") == "SRW-000001"
    # a prefix that merely ends in ours is not ours
    assert _write(app, "Re: [XCBX-000001] Склад") == "CBX-000002"
    # the other desk's tag in our desk is no tag of ours either
    assert _write(app, "Re: [SRW-000001] SMS") == "CBX-000003"


def test_a_stranger_cannot_write_into_a_ticket_by_its_number(app: App) -> None:
    assert _write(app, "Склад") == "CBX-000001"
    assert _write(app, "Re: [CBX-000001] Склад", sender="mallory@vector.test") == "CBX-000002"
    assert _write(app, "Re: (cbx-000001) Склад", sender="mallory@vector.test") == "CBX-000003"


def test_in_reply_to_wins_over_the_subject_tag(app: App) -> None:
    assert _write(app, "Склад") == "CBX-000001"
    assert _write(app, "Касса") == "CBX-000002"
    first_ack = ack_id(app, "CBX-000001")
    assert _write(app, "Re: [CBX-000002] Касса", In_Reply_To=first_ack) == "CBX-000001"
    assert _write(app, "Re: [CBX-000002] Касса", References=first_ack) == "CBX-000001"


def test_several_tags_the_first_ticket_of_this_customer_wins(app: App) -> None:
    assert _write(app, "Склад") == "CBX-000001"
    assert _write(app, "Касса", sender="petro@vector.test") == "CBX-000002"
    # CBX-000002 is another customer's: skipped, ours is found after it
    assert _write(app, "Re: [CBX-000002] [CBX-000001] Склад") == "CBX-000001"


def test_a_new_ticket_and_its_replies_carry_no_prefix_chain(app: App) -> None:
    assert _write(app, "Re: Fwd: AW: Склад") == "CBX-000001"
    assert _reply_subjects(app) == ["[CBX-000001] Склад"]
    with Session(app.db.engine) as s:
        assert s.exec(select(Ticket.subject)).one() == "Склад"


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("Re: [CBX-000042] x", ["CBX-000042"]),
        ("Re: ［ｃｂｘ－００００４２］ x", ["CBX-000042"]),
        ("Re: [CBX-۰۰۰۰۴۲] x", ["CBX-000042"]),
        ("[CBX-000042] [CBX-1234567] x", ["CBX-000042", "CBX-1234567"]),
        ("[CBX-00042] too short", []),
        ("CBX-000042 without brackets", []),
        ("[CBX000042] no dash", []),
        ("", []),
    ],
)
def test_ticket_numbers_in_a_subject(subject: str, numbers: list[str]) -> None:
    assert list(ticket_numbers(subject, "CBX")) == numbers


@pytest.mark.parametrize(
    ("subject", "bare"),
    [
        ("Re: AW: Odp: Отв: Ответ: Відп: Re[2]: پاسخ: FW: Fwd: PD: Пересл: x", "x"),
        ("re : x", "x"),
        ("Re(2): x", "x"),
        ("Re: ", ""),
        ("Reason: x", "Reason: x"),
        ("Ответственный: x", "Ответственный: x"),
        ("x Re: y", "x Re: y"),
    ],
)
def test_reply_prefixes_of_all_our_languages_are_stripped(subject: str, bare: str) -> None:
    assert strip_reply_prefixes(subject) == bare
    assert bare_subject(subject) == bare


def test_a_long_subject_leaves_the_outbox_exactly_as_written(app: App) -> None:
    """The outbox row's bytes (what the sender sends unchanged) carry the whole subject, as
    the ticket has it. (The test's own mails are folded by CPython as a customer's client
    would: some arrive with a space lost, which is why we compare with what was stored.)"""
    subject = "Вопрос по продажах и отчётам за прошлый квартал, не работает экспорт в Excel"
    for shift in range(8):  # the fold falls somewhere else each time
        _write(app, f"{'я' * shift} {subject}".strip())
    with Session(app.db.engine) as s:
        stored = s.exec(select(Ticket.number, Ticket.subject).order_by(col(Ticket.id))).all()
    assert len(stored) == 8 and all(len(text) > 70 for _, text in stored)
    assert _reply_subjects(app) == [f"[{number}] {text}" for number, text in stored]
