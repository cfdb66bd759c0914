"""Who may write and how often: duplicate, unknown_customer, not_designated_contact,
subscription_suspended, monthly_quota — each rule on its own, then through the pipeline.

The helpers they share with test_rules_scope.py and test_rules_abuse.py are in tests/helpers.py.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from mailbot.config import Customer, DeskSettings
from mailbot.outcomes import Outcome
from mailbot.parse import Mail
from mailbot.replies import Renderer
from mailbot.rules import History, RecentMail, load_rules
from mailbot.service import App
from mailbot.store import SpoolItem, Ticket
from mailbot.textnorm import fingerprint
from tests.conftest import deliver
from tests.helpers import (
    NOW,
    ack_id,
    build_app,
    check,
    context,
    desk,
    message,
    parsed,
    replies,
)

# -- helpers of this module only ----------------------------------------------------------


def with_received(raw: bytes, hop: str) -> bytes:
    """The same mail as it arrives by another path: one more Received line on top."""
    return (
        f"Received: from {hop} by mx.cleverbox.test; Fri, 20 Nov 2026 12:00:01 +0200\r\n".encode()
        + raw
    )


# -- loops: our own replies -------------------------------------------------------------------


def test_a_reply_of_another_mailbot_is_dropped_by_loops(tmp_path: Path) -> None:
    """The header a reply is written with is the one `loops` reads: two desks never chat.

    The reply is not marked Auto-Submitted (an agent's answer is not): only the loop header
    can tell the rule who wrote it.
    """
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ack.txt.j2").write_text("Ticket {{ number }}\n")
    other = desk(name="other", addresses=["support@other.test"], ticket_prefix="OTH")
    reply = Renderer(tmp_path).reply(
        desk=other,
        language="en",
        event="ack",
        number="OTH-000001",
        to="support@cleverbox.test",
        subject="Printer",
        in_reply_to="",
        references=(),
        message_id=email.utils.make_msgid(domain="other.test"),
        values={"number": "OTH-000001"},
        now=NOW,
        automatic=False,
    )
    the_desk = desk(rules=["loops"])
    mail = parsed(reply.as_bytes(policy=policy.SMTP))
    verdict = check(the_desk, mail)
    assert verdict is not None and verdict.reason == "auto_reply"
    assert "support@other.test" in verdict.detail


# -- duplicate ---------------------------------------------------------------------------------

REQUEST = (
    "Добрый день!\n\n"
    "После обновления не проводится расходная накладная: при нажатии «Провести» появляется\n"
    "ошибка «Недостаточно остатка», хотя на складе 40 штук.\n\n"
    "Спасибо!\n"
    "-- \n"
    "Олена Коваль, ТОВ «Вектор», +380 44 123 45 67\n"
)


def _dup_desk(window: float | None = None) -> DeskSettings:
    rule = {"duplicate": {"window_hours": window}} if window is not None else {}
    return desk(rules=["duplicate"], rule=rule)


def _recent(mail: Mail, ticket: str, hours_ago: float) -> RecentMail:
    return RecentMail(
        ticket, fingerprint(mail.subject, mail.text), mail.received_at - timedelta(hours=hours_ago)
    )


def test_the_same_message_id_again_is_a_duplicate_naming_the_first_ticket() -> None:
    mail = parsed(message("Не проводится накладная", REQUEST))
    the_desk = _dup_desk()
    verdict = check(
        the_desk,
        mail,
        context(the_desk, mail, history=History(ticket_with_message_id="CBX-000007")),
    )
    assert verdict is not None
    assert (verdict.reason, verdict.ticket, verdict.action) == ("duplicate", "CBX-000007", "refuse")
    assert verdict.values == {"first_ticket": "CBX-000007"}
    assert mail.message_id in verdict.detail


def test_the_same_message_id_is_a_duplicate_even_as_a_follow_up() -> None:
    """Threading it would put the same message into the ticket twice."""
    mail = parsed(message("Re: [CBX-000007] Не проводится накладная", "Вот скриншот."))
    the_desk = _dup_desk()
    ctx = context(
        the_desk, mail, history=History(ticket_with_message_id="CBX-000007"), thread="CBX-000007"
    )
    verdict = check(the_desk, mail, ctx)
    assert verdict is not None and verdict.ticket == "CBX-000007"


def test_a_resend_with_a_new_message_id_is_a_duplicate_by_its_text() -> None:
    """Re:, case, spacing and the signature do not make it a different request."""
    first = parsed(message("Не проводится накладная", REQUEST))
    again = parsed(
        message(
            "RE: не проводится  накладная",
            REQUEST.replace("Спасибо!", "спасибо!").replace("+380 44", "тел. +380 44"),
        )
    )
    the_desk = _dup_desk()
    history = History(recent_from_sender=(_recent(first, "CBX-000003", 2),))
    verdict = check(the_desk, again, context(the_desk, again, history=history))
    assert verdict is not None and verdict.values == {"first_ticket": "CBX-000003"}


def test_of_several_copies_the_earliest_ticket_is_named() -> None:
    mail = parsed(message("Не проводится накладная", REQUEST))
    history = History(
        recent_from_sender=(
            _recent(mail, "CBX-000009", 1),  # newest first, as the store gives them
            RecentMail("CBX-000008", "0" * 32, mail.received_at - timedelta(hours=2)),
            _recent(mail, "CBX-000004", 5),
        )
    )
    the_desk = _dup_desk()
    verdict = check(the_desk, mail, context(the_desk, mail, history=history))
    assert verdict is not None and verdict.ticket == "CBX-000004"


@pytest.mark.parametrize(
    ("window", "hours_ago", "duplicate"),
    [(None, 24.0, True), (None, 24.01, False), (2.0, 1.99, True), (2.0, 2.01, False)],
)
def test_the_window_counts_from_received_at(
    window: float | None, hours_ago: float, duplicate: bool
) -> None:
    mail = parsed(message("Не проводится накладная", REQUEST))
    history = History(recent_from_sender=(_recent(mail, "CBX-000001", hours_ago),))
    the_desk = _dup_desk(window)
    verdict = check(the_desk, mail, context(the_desk, mail, history=history))
    assert (verdict is not None) is duplicate


def test_a_follow_up_repeating_the_same_words_is_not_a_duplicate() -> None:
    """ "Still not working" twice in a ticket is two messages of a conversation."""
    mail = parsed(message("Re: [CBX-000001] Не проводится накладная", REQUEST))
    history = History(recent_from_sender=(_recent(mail, "CBX-000001", 1),))
    the_desk = _dup_desk()
    ctx = context(the_desk, mail, history=history, thread="CBX-000001")
    assert check(the_desk, mail, ctx) is None


def test_mails_without_text_of_their_own_are_not_compared() -> None:
    """Two different screenshots under the same subject would otherwise look identical."""
    mail = parsed(message("Скриншот", "-- \nОлена Коваль, ТОВ «Вектор»\n"))
    history = History(recent_from_sender=(_recent(mail, "CBX-000001", 0.1),))
    the_desk = _dup_desk()
    assert check(the_desk, mail, context(the_desk, mail, history=history)) is None


def test_a_different_request_of_the_same_sender_passes() -> None:
    first = parsed(message("Не проводится накладная", REQUEST))
    other = parsed(message("Не приходят SMS", "Добрый день! Клиентам не приходят SMS о заказе."))
    history = History(recent_from_sender=(_recent(first, "CBX-000001", 0.5),))
    the_desk = _dup_desk()
    assert check(the_desk, other, context(the_desk, other, history=history)) is None


def test_duplicate_settings_are_checked_at_start_up() -> None:
    from mailbot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"rule\.duplicate\.window_hours"):
        load_rules(desk(rules=["duplicate"], rule={"duplicate": {"window_hours": 0}}))
    with pytest.raises(ConfigError, match="unknown key"):
        load_rules(desk(rules=["duplicate"], rule={"duplicate": {"window": 3}}))


# -- unknown_customer --------------------------------------------------------------------------


def test_a_sender_no_customer_claims_is_refused_on_a_desk_that_lists_the_rule() -> None:
    the_desk = desk(rules=["unknown_customer"])
    mail = parsed(
        message(
            "Вопрос по CRM",
            "Здравствуйте, хотим подключить вашу CRM, подскажите цены.",
            sender="director@romashka-torg.test",
            name="Сергей",
        )
    )
    verdict = check(the_desk, mail)
    assert verdict is not None and (verdict.reason, dict(verdict.values)) == (
        "unknown_customer",
        {},
    )
    assert "director@romashka-torg.test" in verdict.detail


def test_a_colleague_known_by_domain_is_a_customer() -> None:
    the_desk = desk(rules=["unknown_customer"])
    mail = parsed(message("Склад", "Склад не открывается.", sender="buh@vector.test", name="Ірина"))
    assert check(the_desk, mail) is None


def test_domain_identification_is_the_desks_choice() -> None:
    the_desk = desk(rules=["unknown_customer"], identify_by_domain=False)
    mail = parsed(message("Склад", "Склад не открывается.", sender="buh@vector.test"))
    verdict = check(the_desk, mail)
    assert verdict is not None and verdict.reason == "unknown_customer"


def test_an_unknown_sender_answering_in_a_tickets_thread_is_not_refused() -> None:
    the_desk = desk(rules=["unknown_customer"])
    mail = parsed(message("Re: [CBX-000002] Склад", "Добавлю: у нас так же.", sender="a@b.test"))
    assert check(the_desk, mail, context(the_desk, mail, thread="CBX-000002")) is None


def test_unknown_customer_takes_no_settings() -> None:
    from mailbot.errors import ConfigError

    with pytest.raises(ConfigError, match="takes no settings"):
        load_rules(desk(rules=["unknown_customer"], rule={"unknown_customer": {"x": 1}}))


# -- not_designated_contact (GRSoft) -----------------------------------------------------------


def _grsoft() -> DeskSettings:
    return DeskSettings(
        name="grsoft",
        addresses=["info@grsoft.test"],
        language="ru",
        timezone="Europe/Moscow",
        ticket_prefix="GRS",
        rules=["not_designated_contact"],
        customers=[
            Customer(
                name="ООО Ромашка",
                contacts=["ivanov@romashka.test", "petrov@romashka.test"],
                domains=["romashka.test"],
                designated_contact="Ivanov@Romashka.test",
            ),
            Customer(name="ИП Сидоров", contacts=["sidorov@sidorov.test"]),
        ],
    )


NAPOLEON = (
    "Добрый день!\n\nПроект: Ромашка-Юг. У торговых представителей не выгружаются заказы,\n"
    "обмен зависает на 80 %. Касается 12 сотрудников.\n\nС уважением, {who}\n"
)


@pytest.mark.parametrize(
    ("sender", "how"),
    [("petrov@romashka.test", "contact"), ("sklad@romashka.test", "domain")],
)
def test_another_person_of_the_customer_is_told_who_may_write(sender: str, how: str) -> None:
    the_desk = _grsoft()
    mail = parsed(message("Не выгружаются заказы", NAPOLEON.format(who="Петров"), sender=sender))
    verdict = check(the_desk, mail)
    assert verdict is not None and verdict.reason == "not_designated_contact"
    assert verdict.values == {"designated_contact": "ivanov@romashka.test"}
    assert how in verdict.detail


def test_the_designated_contact_writes_in_any_letter_case() -> None:
    the_desk = _grsoft()
    mail = parsed(
        message(
            "Не выгружаются заказы", NAPOLEON.format(who="Иванов"), sender="IVANOV@romashka.test"
        )
    )
    assert check(the_desk, mail) is None


def test_customers_without_a_designated_contact_and_strangers_pass() -> None:
    the_desk = _grsoft()
    for sender in ("sidorov@sidorov.test", "new.client@gmail.test"):
        mail = parsed(message("Вопрос", NAPOLEON.format(who="Сидоров"), sender=sender))
        assert check(the_desk, mail) is None


def test_a_colleague_answering_in_the_designated_contacts_thread_is_heard() -> None:
    the_desk = _grsoft()
    mail = parsed(
        message("Re: [GRS-000001] заказы", "База во вложении.", sender="petrov@romashka.test")
    )
    assert check(the_desk, mail, context(the_desk, mail, thread="GRS-000001")) is None


# -- subscription_suspended --------------------------------------------------------------------


def _subscription_desk(**customer: Any) -> DeskSettings:
    return desk(
        rules=["subscription_suspended"],
        customers=[Customer(name="Beta LLC", contacts=["max@beta.test"], **customer)],
    )


def _beta_mail() -> Mail:
    return parsed(
        message(
            "Не открывается отчёт",
            "Добрый день, отчёт по продажам не открывается. Макс",
            sender="max@beta.test",
            name="Max",
        )
    )


@pytest.mark.parametrize("status", ["suspended", "ended"])
def test_a_suspended_or_ended_customer_is_refused(status: str) -> None:
    verdict = check(_subscription_desk(status=status), _beta_mail())
    assert verdict is not None and verdict.reason == "subscription_suspended"
    assert verdict.values == {"status": status, "until": None}


@pytest.mark.parametrize(
    ("until", "now", "refused"),
    [
        (date(2026, 11, 20), NOW, False),  # the last day is covered
        (date(2026, 11, 19), NOW, True),  # it ended yesterday
        # 23:30 UTC on the 20th is already the 21st in Kyiv: the contract ended there
        (date(2026, 11, 20), datetime(2026, 11, 20, 23, 30, tzinfo=UTC), True),
        (date(2026, 11, 20), datetime(2026, 11, 20, 21, 59, tzinfo=UTC), False),
    ],
)
def test_the_subscription_covers_its_last_day_in_desk_time(
    until: date, now: datetime, refused: bool
) -> None:
    the_desk = _subscription_desk(subscription_until=until)
    mail = _beta_mail()
    verdict = check(the_desk, mail, context(the_desk, mail, now=now))
    assert (verdict is not None) is refused
    if verdict is not None:
        assert verdict.values == {"status": "ended", "until": until.isoformat()}


def test_a_suspended_customers_answer_in_an_open_ticket_still_reaches_the_agent() -> None:
    the_desk = _subscription_desk(status="suspended")
    mail = _beta_mail()
    assert check(the_desk, mail, context(the_desk, mail, thread="CBX-000010")) is None


def test_subscription_rule_ignores_senders_without_customer() -> None:
    the_desk = _subscription_desk(status="suspended")
    mail = parsed(message("Вопрос", "Здравствуйте!", sender="x@unknown.test"))
    assert check(the_desk, mail) is None


# -- monthly_quota -----------------------------------------------------------------------------


def _quota_desk(limit: int | None = None, own: int | None = None) -> DeskSettings:
    return desk(
        rules=["monthly_quota"],
        rule={"monthly_quota": {"limit": limit}} if limit else {},
        customers=[
            Customer(name="ТОВ Вектор", contacts=["olena@vector.test"], monthly_limit=own),
        ],
    )


@pytest.mark.parametrize(
    ("limit", "own", "count", "refused"),
    [
        (None, None, 49, False),  # the 50th request of the month is served
        (None, None, 50, True),  # the 51st is not
        (10, None, 9, False),
        (10, None, 10, True),
        (10, 60, 55, False),  # the customer's own contract buys more
        (10, 60, 60, True),
    ],
)
def test_requests_beyond_the_monthly_limit_are_refused(
    limit: int | None, own: int | None, count: int, refused: bool
) -> None:
    the_desk = _quota_desk(limit, own)
    mail = parsed(message("Новый вопрос", "Как выгрузить клиентов в Excel?"))
    verdict = check(
        the_desk, mail, context(the_desk, mail, history=History(requests_this_month=count))
    )
    assert (verdict is not None) is refused
    if verdict is not None:
        assert verdict.values == {"limit": own or limit or 50, "count": count}


def test_answers_in_open_tickets_do_not_count_against_the_quota() -> None:
    the_desk = _quota_desk()
    mail = parsed(message("Re: [CBX-000050] вопрос", "Спасибо, а ещё так?"))
    ctx = context(the_desk, mail, history=History(requests_this_month=80), thread="CBX-000050")
    assert check(the_desk, mail, ctx) is None


# -- through the pipeline ----------------------------------------------------------------------

CLEVERBOX = """
name = "cleverbox"
title = "CleverBox:CRM"
addresses = ["support@cleverbox.test", "help@cleverbox.test"]
language = "ru"
timezone = "Europe/Kyiv"
ticket_prefix = "CBX"
fallback_charsets = ["utf-8", "windows-1251", "koi8-u", "koi8-r"]
rules = ["loops", "duplicate", "unknown_customer", "subscription_suspended", "monthly_quota"]

[rule.duplicate]
window_hours = 24

[rule.monthly_quota]
limit = 50

[[customers]]
name = "ТОВ Вектор"
contacts = ["olena@vector.test"]
plan = "standard"

[[customers]]
name = "Beta LLC"
contacts = ["max@beta.test"]
status = "suspended"

[[customers]]
name = "Дельта"
contacts = ["ops@delta.test"]
monthly_limit = 2
"""

GRSOFT = """
name = "grsoft"
title = "GRSoft"
addresses = ["info@grsoft.test"]
language = "ru"
timezone = "Europe/Moscow"
ticket_prefix = "GRS"
rules = ["loops", "duplicate", "not_designated_contact"]

[[customers]]
name = "ООО Ромашка"
contacts = ["petrov@romashka.test"]
designated_contact = "ivanov@romashka.test"
"""


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    application = build_app(tmp_path, db_url, {"cleverbox": CLEVERBOX, "grsoft": GRSOFT})
    yield application
    application.db.dispose()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[App]:
    application = build_app(
        tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}", {"cleverbox": CLEVERBOX}
    )
    yield application
    application.db.dispose()


def test_pipeline_one_mail_delivered_twice_and_to_two_addresses(app: App) -> None:
    raw = message("Не проводится накладная", REQUEST)
    first = deliver(app, raw)
    assert (first.outcome, first.ticket) == ("ticket", "CBX-000001")
    again = deliver(app, with_received(raw, "mx2.vector.test"), rcpt="help@cleverbox.test")
    assert again.as_json() | {"spool_id": None} == {
        "spool_id": None,
        "desk": "cleverbox",
        "outcome": "quarantined",
        "ticket": "CBX-000001",
        "reason": "duplicate",
        "detail": again.detail,
        "missing": [],
        "product": None,
        "type": None,
        "category": None,
        "impact": None,
        "urgency": None,
        "priority": None,
        "sla_level": None,
        "package_service": None,
        "first_response_due": None,
        "resolution_due": None,
        "sla_paused": False,
    }
    assert replies(app)[-1] == ("duplicate", "[duplicate] first_ticket=CBX-000001 lang=ru\n")
    with Session(app.db.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1
        item = s.exec(select(SpoolItem).where(col(SpoolItem.id) == again.spool_id)).one()
        assert (item.state, item.reason) == ("quarantined", "duplicate")
    assert app.spool.read(again.spool_id).endswith(raw)  # nothing of it is lost


def test_pipeline_the_same_text_sent_again_is_a_duplicate_a_new_question_is_not(
    sqlite_app: App,
) -> None:
    deliver(sqlite_app, message("Не проводится накладная", REQUEST))
    resent = deliver(sqlite_app, message("Не проводится накладная", REQUEST))
    assert (resent.reason, resent.ticket) == ("duplicate", "CBX-000001")
    other = deliver(sqlite_app, message("Отчёт", "Добрый день! Как построить отчёт по менеджерам?"))
    assert (other.outcome, other.ticket) == ("ticket", "CBX-000002")


def test_pipeline_a_follow_up_delivered_twice_is_kept_once(sqlite_app: App) -> None:
    deliver(sqlite_app, message("Не проводится накладная", REQUEST))
    ack = ack_id(sqlite_app, "CBX-000001")
    answer = message(
        "Re: [CBX-000001] Не проводится накладная",
        "Вот скриншот ошибки.\n\n> Ваше обращение зарегистрировано под номером CBX-000001",
        In_Reply_To=ack,
        References=ack,
    )
    assert deliver(sqlite_app, answer).ticket == "CBX-000001"
    twice = deliver(sqlite_app, with_received(answer, "relay.vector.test"))
    assert (twice.outcome, twice.reason, twice.ticket) == ("quarantined", "duplicate", "CBX-000001")
    # the same words as a new message in the thread (another Message-ID) are a message
    again = message(
        "Re: [CBX-000001] Не проводится накладная",
        "Вот скриншот ошибки.",
        In_Reply_To=ack,
        References=ack,
    )
    assert deliver(sqlite_app, again).outcome == "ticket"


def test_pipeline_customers_strangers_and_suspended(app: App) -> None:
    stranger = deliver(
        app,
        message("Цены", "Здравствуйте! Сколько стоит CRM?", sender="ceo@new-shop.test", name="X"),
    )
    assert (stranger.outcome, stranger.reason, stranger.ticket) == (
        "quarantined",
        "unknown_customer",
        None,
    )
    suspended = deliver(
        app,
        message(
            "Не открывается отчёт",
            "<p>Добрый день, отчёт по продажам не открывается.</p><p>Max</p>",
            html="<html><body><p>Добрый день, отчёт по продажам не открывается.</p></body></html>",
            sender="max@beta.test",
            name="Max",
        ),
    )
    assert (suspended.outcome, suspended.reason) == ("quarantined", "subscription_suspended")
    assert [kind for kind, _ in replies(app)] == ["unknown_customer", "subscription_suspended"]
    assert replies(app)[1][1] == ("[subscription_suspended] status=suspended until=None lang=ru\n")


def test_pipeline_monthly_quota_counts_new_requests_of_this_month(app: App) -> None:
    def ask(n: int) -> Outcome:
        raw = message(
            f"Вопрос {n}",
            f"Добрый день! Вопрос номер {n}: как настроить воронку продаж?",
            sender="ops@delta.test",
            name="Дельта",
            charset="windows-1251",
        )
        return deliver(app, raw)

    assert [ask(1).outcome, ask(2).outcome] == ["ticket", "ticket"]
    third = ask(3)
    assert (third.outcome, third.reason) == ("quarantined", "monthly_quota")
    assert replies(app)[-1] == ("monthly_quota", "[monthly_quota] count=2 limit=2 lang=ru\n")
    ack = ack_id(app, "CBX-000001")
    follow_up = message(
        "Re: [CBX-000001] Вопрос 1",
        "Спасибо, получилось.",
        sender="ops@delta.test",
        In_Reply_To=ack,
        References=ack,
    )
    assert deliver(app, follow_up).ticket == "CBX-000001"


def test_pipeline_a_month_later_the_quota_starts_again(sqlite_app: App) -> None:
    clock: list[datetime] = [datetime(2026, 11, 30, 21, 0, tzinfo=UTC)]  # 23:00 in Kyiv
    sqlite_app.pipeline.clock = lambda: clock[0]

    def ask(n: int) -> Outcome:
        body = f"Добрый день! Вопрос {n} про импорт контактов."
        return deliver(sqlite_app, message(f"Вопрос {n}", body, sender="ops@delta.test"))

    assert [ask(1).outcome, ask(2).outcome, ask(3).reason] == ["ticket", "ticket", "monthly_quota"]
    clock[0] = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 00:30 on 1 December in Kyiv
    assert ask(4).outcome == "ticket"


def test_pipeline_grsoft_designated_contact(app: App) -> None:
    colleague = deliver(
        app,
        message(
            "Не выгружаются заказы",
            NAPOLEON.format(who="Петров"),
            sender="petrov@romashka.test",
            to="info@grsoft.test",
        ),
        rcpt="info@grsoft.test",
    )
    assert (colleague.outcome, colleague.reason) == ("quarantined", "not_designated_contact")
    assert replies(app)[-1][1] == (
        "[not_designated_contact] designated=ivanov@romashka.test lang=ru\n"
    )
    specialist = deliver(
        app,
        message(
            "Не выгружаются заказы",
            NAPOLEON.format(who="Иванов"),
            sender="ivanov@romashka.test",
            to="info@grsoft.test",
        ),
        rcpt="info@grsoft.test",
    )
    assert (specialist.outcome, specialist.ticket) == ("ticket", "GRS-000001")
