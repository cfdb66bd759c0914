"""CleverBox, issue 11 part 2, against the shipped desk file through `mailbot ingest --json`.

Identification (POLICIES.md §5, refusal 1): the unknown_customer refusal asks for the
company name and the contract number; a mail from an unknown address that gives both opens
a ticket for that customer, flagged for an agent to confirm the address, which is not
remembered. One of the two alone identifies nobody.

One problem per request (special requests §5): a mail listing several separate problems
opens its ticket for the first and is asked, in the customer's language, to send the others
separately; steps to reproduce one problem are no list of problems.
"""

from __future__ import annotations

import sqlite3
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot.config import Customer
from mailbot.errors import ConfigError
from mailbot.replies import Renderer
from tests.conftest import REPO
from tests.test_desks import (
    CLEVERBOX,
    OLENA,
    Desks,
    _reply,
    check_reply,
    desks,
    modern,
    outcome,
    plain,
    text_of,
)

__all__ = ["desks"]  # the fixture, used by name

STRANGER = ("Ірина Савчук", "i.savchuk@gmail.test")
AGENT = "duty@cleverbox.test"


def agent_notices(desks: Desks, to: str = AGENT) -> list[EmailMessage]:
    with sqlite3.connect(desks.db) as conn:
        rows = conn.execute(
            "SELECT raw FROM outbox WHERE kind = 'agent_notice' AND to_addr = ? ORDER BY id",
            (to,),
        ).fetchall()
    return [_reply(raw) for (raw,) in rows]


def events(desks: Desks, number: str) -> list[dict[str, object]]:
    shown = desks.json("tickets", "show", number)
    return list(shown["events"])


# -- identification by company name and contract number -----------------------------------------


def test_stranger_giving_company_and_contract_opens_a_ticket_flagged_for_confirmation(
    desks: Desks,
) -> None:
    raw = modern(
        STRANGER,
        CLEVERBOX,
        "Не працює імпорт контактів",
        "Добрий день!\n\n"
        "Пишу з особистої пошти, корпоративна не працює. Під час імпорту контактів з Excel\n"
        "система зависає на 0%. Наш договір № СВ 2024-117.\n\n"
        "З повагою,\nІрина Савчук\nбухгалтер, ТОВ «Вектор»\n",
    )
    line = desks.ingest("identified.eml", raw)

    outcome(line, "ticket", desk="cleverbox", ticket="CBX-000001")
    check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to=STRANGER[1],
        ticket="CBX-000001",
        says=("Ваше звернення зареєстровано під номером CBX-000001",),
    )
    shown = desks.json("tickets", "show", "CBX-000001")
    assert shown["customer"] == "ТОВ Вектор"
    [flag] = [e for e in shown["events"] if e["kind"] == "identified_by_contract"]
    assert flag["note"] == (
        "identified by company name and contract number, address not yet confirmed"
    )
    assert (flag["contract"], flag["address"]) == ("CB-2024-117", STRANGER[1])
    [notice] = agent_notices(desks)
    said = " ".join(plain(notice).split())
    assert "клиент определён по названию компании и номеру договора CB-2024-117" in said
    assert f"адрес {STRANGER[1]} ещё не подтверждён" in said


def test_the_address_is_not_remembered_a_second_mail_without_the_number_is_refused(
    desks: Desks,
) -> None:
    first = modern(
        STRANGER,
        CLEVERBOX,
        "Не формується рахунок",
        "Добрий день, не формується рахунок з угоди. ТОВ Вектор, договір CB-2024-117.\n",
    )
    again = modern(
        STRANGER,
        CLEVERBOX,
        "Ще питання",
        "Добрий день, у звіті по менеджерах не видно угод за листопад. Ірина, ТОВ Вектор\n",
    )
    one, two = desks.ingest_many(("first.eml", first), ("again.eml", again))

    outcome(one, "ticket", desk="cleverbox", ticket="CBX-000001")
    outcome(two, "quarantined", desk="cleverbox", reason="unknown_customer")
    check_reply(
        desks.reply(two["spool_id"]),
        language="uk",
        to=STRANGER[1],
        ticket=None,
        says=("вкажіть у листі назву компанії та номер договору",),
    )
    assert "the name of ТОВ Вектор" in two["detail"]


def test_an_unconfirmed_address_writes_into_its_own_tickets_not_the_customers_others(
    desks: Desks,
) -> None:
    olena = modern(
        OLENA, CLEVERBOX, "Не работает телефония", "Добрый день, звонки не записываются.\n"
    )
    stranger = modern(
        STRANGER,
        CLEVERBOX,
        "Re: [CBX-000001] Не работает телефония",
        "Добавлю к заявке: записи пропали и за прошлую неделю. ТОВ Вектор, договор CB-2024-117\n",
    )
    own_reply = modern(
        STRANGER,
        CLEVERBOX,
        "Re: [CBX-000002] Не работает телефония",
        "И ещё: у меня в браузере та же картина.\n",
    )
    first, second, third = desks.ingest_many(
        ("olena.eml", olena), ("stranger.eml", stranger), ("own.eml", own_reply)
    )

    outcome(first, "ticket", desk="cleverbox", ticket="CBX-000001")
    outcome(second, "ticket", desk="cleverbox", ticket="CBX-000002")
    outcome(third, "ticket", desk="cleverbox", ticket="CBX-000002")
    kinds = [e["kind"] for e in events(desks, "CBX-000001")]
    assert "customer_reply" not in kinds
    assert desks.json("tickets", "show", "CBX-000002")["customer"] == "ТОВ Вектор"


@pytest.mark.parametrize(
    ("case", "text", "detail"),
    [
        (
            "another company's contract",
            "Здравствуйте, не открывается карточка сделки. ООО «Вектор», договор CB-2024-031.",
            "contract CB-2024-031 of Гамма",
        ),
        (
            "the company alone",
            "Здравствуйте, не открывается карточка сделки. С уважением, ООО «Вектор».",
            "the name of ТОВ Вектор",
        ),
        (
            "the contract alone",
            "Здравствуйте, не открывается карточка сделки. Договор CB-2024-117.",
            "contract CB-2024-117 of ТОВ Вектор",
        ),
        (
            "a longer number",
            "Здравствуйте, не открывается карточка. ООО «Вектор», договор CB-2024-1170.",
            "the name of ТОВ Вектор",
        ),
    ],
)
def test_one_factor_is_not_identification(desks: Desks, case: str, text: str, detail: str) -> None:
    raw = modern(STRANGER, CLEVERBOX, "Не открывается карточка", text + "\n")
    line = desks.ingest("one-factor.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="unknown_customer")
    assert detail in line["detail"], case
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=STRANGER[1],
        ticket=None,
        says=("укажите в письме название компании и номер договора",),
    )
    assert agent_notices(desks) == []


def test_identified_customer_still_meets_the_desk_rules_a_suspended_one_is_refused(
    desks: Desks,
) -> None:
    raw = modern(
        ("Anna Berg", "anna.berg@mail.test"),
        CLEVERBOX,
        "Export does not work",
        "Hello, the export of deals to CSV gives an empty file.\nBeta LLC, contract cb 2023 052\n",
    )
    line = desks.ingest("beta.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="subscription_suspended")


def test_contract_number_of_two_customers_stops_start_up() -> None:
    from mailbot.config import DeskSettings

    customers = [
        {"name": "A", "contracts": ["CB-1"]},
        {"name": "B", "contracts": ["cb.1"]},
    ]
    with pytest.raises(ValueError, match="listed for 'A' and 'B'"):
        DeskSettings.model_validate(
            {"addresses": ["s@x.test"], "ticket_prefix": "XX", "customers": customers}
        )
    with pytest.raises(ValueError, match="needs digits"):
        Customer.model_validate({"name": "A", "contracts": ["договор"]})
    with pytest.raises(ValueError, match="letters, digits"):
        Customer.model_validate({"name": "A", "contracts": ["CB 2024 117"]})


def test_check_config_names_the_file_and_key_of_a_bad_contract(tmp_path: Path) -> None:
    from mailbot.config import load
    from tests.conftest import copy_desks, write_config

    folder = copy_desks(tmp_path)
    cleverbox = folder / "cleverbox.toml"
    text = cleverbox.read_text()
    cleverbox.write_text(text.replace('contracts = ["CB-2024-117"]', 'contracts = ["№ 117"]'))
    with pytest.raises(ConfigError, match=r"cleverbox\.toml.*contracts"):
        load(write_config(tmp_path, f"sqlite:///{tmp_path / 'db'}", desks=folder), environ={})


# -- one problem per request ---------------------------------------------------------------------


def test_a_mail_with_several_problems_opens_one_ticket_and_asks_to_split_them(
    desks: Desks,
) -> None:
    raw = modern(
        OLENA,
        CLEVERBOX,
        "Несколько проблем после обновления",
        "Добрый день!\n\n"
        "После вчерашнего обновления у нас:\n"
        "1. Не работает импорт контактов из Excel, висит на 0%.\n"
        "2. В отчёте по продажам пропали менеджеры, добавленные в октябре.\n"
        "3. Письма клиентам не отправляются, в журнале ошибка SMTP 535.\n\n"
        "Олена\n",
    )
    line = desks.ingest("several.eml", raw)

    outcome(line, "ticket", desk="cleverbox", ticket="CBX-000001")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=OLENA[1],
        ticket="CBX-000001",
        says=(
            "В Вашем письме описано несколько разных проблем",
            "это обращение мы открыли по первой из них",
            "пришлите отдельными письмами — по одному на каждую проблему",
            "Ваше обращение зарегистрировано под номером CBX-000001",
        ),
    )
    assert desks.json("tickets", "show", "CBX-000001")["state"] == "new"
    assert "several_problems" in [e["kind"] for e in events(desks, "CBX-000001")]


def test_several_problems_in_ukrainian_prose_are_answered_in_ukrainian(desks: Desks) -> None:
    raw = modern(
        OLENA,
        CLEVERBOX,
        "не відкривається картка",
        "Добрий день. Не відкривається картка клієнта, пише помилку 403.\n"
        "Також не працює розсилка по базі клієнтів, листи стоять у черзі.\nДякую\n",
    )
    line = desks.ingest("uk.eml", raw)

    outcome(line, "ticket", desk="cleverbox", ticket="CBX-000001")
    check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket="CBX-000001",
        says=("Решту, будь ласка, надішліть окремими листами",),
    )


@pytest.mark.parametrize(
    ("case", "text"),
    [
        (
            "steps to reproduce",
            "Добрый день!\nНе сохраняется сделка с товарами. Как воспроизвести:\n"
            "1. Открываю карточку сделки\n2. Добавляю товар из каталога\n"
            "3. Нажимаю «Сохранить»\n4. Появляется ошибка «Internal error», ничего не"
            " сохраняется\n",
        ),
        (
            "one fault with its symptoms",
            "Добрый день. Почтовый модуль перестал работать после смены пароля:\n"
            "- входящие письма не появляются в CRM\n"
            "- при отправке письма крутится индикатор и потом ошибка\n"
            "- в настройках ящика статус «не подключен»\n",
        ),
        (
            "thanks first, the problem second",
            "Добрый день! Во-первых, спасибо за быструю помощь в прошлый раз. Во-вторых,"
            " звонки перестали записываться с пятницы. Что можно проверить?\n",
        ),
    ],
)
def test_one_problem_told_at_length_gets_the_plain_acknowledgement(
    desks: Desks, case: str, text: str
) -> None:
    line = desks.ingest("one.eml", modern(OLENA, CLEVERBOX, "Не работает", text))

    outcome(line, "ticket", desk="cleverbox", ticket="CBX-000001")
    said = text_of(desks.reply(line["spool_id"]))
    assert "Ваше обращение зарегистрировано под номером CBX-000001" in said, case
    assert "несколько разных проблем" not in said, case


def test_split_request_renders_tidy_in_each_language() -> None:
    renderer = Renderer(REPO / "templates")
    for language, words in (
        ("ru", "пришлите отдельными письмами"),
        ("uk", "надішліть окремими листами"),
        ("en", "send each of the others in a separate message"),
    ):
        text = renderer.render_text(
            language,
            "several_problems",
            {
                "desk_name": "CleverBox:CRM",
                "customer_name": None,
                "ticket_number": "CBX-000007",
                "subject": "Проблемы",
                "deadline": None,
                "resolution_deadline": None,
                "priority": None,
                "articles": [],
            },
        )
        assert words in " ".join(text.split())
        assert "CBX-000007" in text and text.endswith("\n") and "\n\n\n" not in text
        assert all(len(line) <= 78 for line in text.split("\n"))
