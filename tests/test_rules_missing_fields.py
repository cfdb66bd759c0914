"""`missing_fields` (GRSoft): what a complete request holds, found in labelled lines or prose.

Mails are written the way GRSoft's customers write: Russian or English, a greeting, a
signature with a phone, quoted history, sometimes a form copied from our own reply. The
rule is checked directly and through the pipeline, where an incomplete request opens a
ticket waiting for the customer and the customer's answer in the same thread completes it
or is asked again for exactly what is still missing.
"""

from __future__ import annotations

import email
import io
import sqlite3
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import py7zr
import pytest
from sqlmodel import Session, col, select

from mailbot import config as config_mod
from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.parse import Mail, parse
from mailbot.rules import Action, Context, History, Thread, Verdict, load_rules
from mailbot.rules._archives import member_names
from mailbot.rules.missing_fields import FIELD_CODES
from mailbot.service import App
from mailbot.store import OutboxRow, Ticket
from tests.conftest import SHIPPED_DESKS, deliver, write_config

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
SENDER = "i.petrov@romashka.test"
SEVEN = (
    "project",
    "contact",
    "description",
    "modules",
    "steps_to_reproduce",
    "impact",
    "affected_employees",
)
NAPOLEON_ONLY = ("mobile_database", "exchange_archive_link")

DESK: dict[str, Any] = {
    "name": "grsoft",
    "addresses": ["info@grsoft.test"],
    "language": "ru",
    "timezone": "Europe/Moscow",
    "ticket_prefix": "GRS",
    "rules": ["loops", "product", "missing_fields"],
    # the products and the fields asked for are GRSoft's, as its desk file ships them
    "rule": {
        name: table
        for name, table in tomllib.loads((SHIPPED_DESKS / "grsoft.toml").read_text())[
            "rule"
        ].items()
        if name in ("product", "missing_fields")
    },
    "customers": [
        {
            "name": "ООО Ромашка",
            "domains": ["romashka.test"],
            "designated_contact": SENDER,
            "projects": {"napoleon": ["Ромашка-Юг"], "aceteam": ["AT-20417"]},
        }
    ],
}

Attached = tuple[str, bytes, str]


def sqlite_bytes(tmp: Path, name: str = "napoleon.db") -> bytes:
    path = tmp / name
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, client TEXT, total REAL)")
        db.executemany(
            "INSERT INTO orders (client, total) VALUES (?, ?)",
            [("ИП Сидоров", 1200.5), ("ООО Лютик", 830.0)],
        )
    data = path.read_bytes()
    path.unlink()
    return data


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sevenzip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def mail_bytes(
    subject: str,
    body: str,
    *,
    sender: str = SENDER,
    name: str = "Иван Петров",
    attachments: Sequence[Attached] = (),
    html: str | None = None,
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = "info@grsoft.test"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="romashka.test")
    msg["Date"] = "Tue, 10 Mar 2026 11:40:00 +0300"
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=policy.SMTP)


def make_mail(subject: str, body: str, **kwargs: Any) -> Mail:
    return parse(mail_bytes(subject, body, **kwargs), accepted_at=NOW)


def desk(**changes: Any) -> DeskSettings:
    """The GRSoft desk; `rule` replaces the named rules' tables only."""
    rule = {**DESK["rule"], **changes.pop("rule", {})}
    return DeskSettings.model_validate({**DESK, **changes, "rule": rule})


def context(d: DeskSettings, thread: Thread | None = None, sender: str = SENDER) -> Context:
    customer, how = d.customer_for(sender)
    return Context(
        desk=d,
        envelope_from=sender,
        now=NOW,
        customer=customer,
        identified_by=how,
        mail_language="ru",
        history=History(thread=thread),
    )


def judge(mail: Mail, d: DeskSettings | None = None, thread: Thread | None = None) -> Verdicts:
    d = d or desk()
    ctx = context(d, thread, mail.from_addr)
    found = [r.check(mail, ctx) for r in load_rules(d)]
    return Verdicts([v for v in found if v is not None])


class Verdicts(list[Verdict]):
    @property
    def asked(self) -> tuple[str, ...] | None:
        asks = [v for v in self if v.action == Action.ask]
        return asks[0].missing if asks else None

    @property
    def product(self) -> str | None:
        return next((v.annotations["product"] for v in self if "product" in v.annotations), None)


# -- mails -------------------------------------------------------------------------------------

ACETEAM_COMPLETE = """\
Добрый день!

Код проекта: AT-20417.
С утра в модуле «Заказы» мобильного приложения AceTeam заказы не отправляются на сервер:
после нажатия «Отправить» крутится индикатор, через минуту появляется ошибка
«Нет связи с сервером». Интернет на устройствах есть, браузер открывается.

Шаги:
1. Открыть приложение, раздел «Заказы».
2. Создать заказ любому клиенту и нажать «Отправить».

Из-за этого торговые представители не могут передать заказы, отгрузки на завтра срываются.
Затронуто сотрудников: 12.

С уважением, Иван Петров, ООО Ромашка, тел. +7 916 123-45-67

10.03.2026 9:15, Петр Сидоров пишет:
> Иван, посмотри, пожалуйста, что с заказами в AT-99999.
"""

NAPOLEON_PROSE = """\
Здравствуйте!

После вчерашнего обновления на планшетах не синхронизируются остатки в модуле склада
мобильного приложения. Открываем приложение, запускаем обмен — через пару минут появляется
ошибка "database disk image is malformed". Остатки не обновляются, и у 5 торговых
представителей не получается принимать заказы у клиентов.

--
Иван Иванов
ООО «Ромашка», отдел ИТ
+7 (916) 123-45-67
"""

ENGLISH_COMPLETE = """\
Hello,

Since this morning the AceTeam mobile app fails to send orders from the Orders module:
after tapping "Send" the spinner runs for a minute and then shows "No connection to server".
The devices are online; other apps work fine.

Steps to reproduce:
1. Open the app and go to Orders.
2. Create an order for any client and tap Send.

Our sales reps cannot take orders, so tomorrow's deliveries are at risk.
This affects 12 sales reps.

Best regards,
John Smith
IT manager, Romashka Ltd
Phone: +44 20 7946 0958
"""


# -- new requests ------------------------------------------------------------------------------


def test_a_complete_aceteam_request_asks_nothing_and_names_the_product() -> None:
    verdicts = judge(make_mail("Не уходят заказы с планшетов", ACETEAM_COMPLETE))
    assert verdicts.asked is None
    assert verdicts.product == "aceteam"


def test_a_napoleon_request_without_database_and_link_asks_for_exactly_those() -> None:
    verdicts = judge(make_mail("Ромашка-Юг: не синхронизируются остатки", NAPOLEON_PROSE))
    assert verdicts.product == "napoleon"
    assert verdicts.asked == NAPOLEON_ONLY
    ask = next(v for v in verdicts if v.action == Action.ask)
    assert (ask.rule, ask.reason) == ("missing_fields", "missing_fields")
    assert "mobile_database, exchange_archive_link" in ask.detail and "napoleon" in ask.detail


def test_a_napoleon_request_with_database_and_link_is_complete(tmp_path: Path) -> None:
    body = NAPOLEON_PROSE.replace(
        "--\n", "Архив каталога обмена: https://disk.yandex.ru/d/Xk3mQ9aLp2\n\n--\n"
    )
    mail = make_mail(
        "Ромашка-Юг: не синхронизируются остатки",
        body,
        attachments=[("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream")],
    )
    assert mail.attachments[0].sniffed_type in ("application/vnd.sqlite3", "application/x-sqlite3")
    assert judge(mail).asked is None


def test_an_empty_cry_for_help_asks_for_everything() -> None:
    verdicts = judge(make_mail("Помогите", "не работает!!!", name=""))
    assert verdicts.asked == SEVEN
    assert verdicts.product is None


def test_an_english_complete_request_asks_nothing() -> None:
    mail = make_mail("Orders are not sent (AT-20417)", ENGLISH_COMPLETE, name="John Smith")
    verdicts = judge(mail)
    assert verdicts.asked is None and verdicts.product == "aceteam"


def test_missing_fields_come_in_the_regulations_order() -> None:
    body = (
        "Добрый день. Проект Ромашка-Юг. Не открывается отчёт по продажам, пишет ошибку.\n"
        "Иван Петров, +7 916 123-45-67"
    )
    asked = judge(make_mail("Ошибка отчёта", body)).asked
    assert asked is not None
    assert list(asked) == sorted(asked, key=FIELD_CODES.index)
    assert asked == (
        "description",
        "modules",
        "steps_to_reproduce",
        "impact",
        "affected_employees",
        "mobile_database",
        "exchange_archive_link",
    )


@pytest.mark.parametrize(
    ("subject", "body", "project_given"),
    [
        ("AcePacer: не строится маршрут", "Маршрут не строится.", True),
        ("Не строится маршрут", "В AcePacer не строится маршрут.", False),
        ("Не строится маршрут", "Код проекта: AT-55501\nМаршрут не строится.", True),
        ("Не строится маршрут", "Проект: Берёзка-Север\nМаршрут не строится.", True),
        ("Не строится маршрут", "Проект: \nМаршрут не строится.", False),
        ("Не строится маршрут", "Название проекта: -\nМаршрут не строится.", False),
        ("Не строится маршрут", "В Наполеоне не строится маршрут.", False),
    ],
)
def test_the_project_is_a_name_a_code_or_acepacer_in_the_subject(
    subject: str, body: str, project_given: bool
) -> None:
    asked = judge(make_mail(subject, body, sender="anna@unknown.test")).asked or ()
    assert ("project" not in asked) is project_given


@pytest.mark.parametrize(
    ("name", "signature", "given"),
    [
        ("Иван Петров", "тел. +7 916 123-45-67", True),
        ("", "С уважением, Иван Петров, ООО Ромашка, тел. +7 916 123-45-67", True),
        ("", "С уважением,\nИван Петров\nООО «Ромашка»\n8 (916) 123-45-67", True),
        ("", "Иван Иванов, +7 916 123-45-67", True),
        ("", "Контактное лицо: Иван Петров\nТелефон: 123-45-67", True),
        ("", "Contact: Anna Smirnova, telegram @anna_smr", True),
        ("", "Anna Smirnova\nanna.smirnova@romashka.test", True),
        ("Иван Петров", "С уважением, Иван", False),  # a name, but no way to reach him
        ("ООО Ромашка", "тел. +7 916 123-45-67", False),  # a way to reach, but nobody
        ("", "Отдел ИТ, +7 916 123-45-67", False),
        ("Иван Петров", "Версия 12.03.2025, сборка 4512", False),  # dates are no phones
    ],
)
def test_contact_is_a_persons_name_and_a_way_to_reach_them(
    name: str, signature: str, given: bool
) -> None:
    body = f"Добрый день!\nВ Наполеоне не работает обмен.\n\n{signature}\n"
    asked = judge(make_mail("Обмен", body, name=name)).asked or ()
    assert ("contact" not in asked) is given


def test_the_from_address_alone_is_no_contact_detail() -> None:
    asked = judge(make_mail("Обмен", "Не работает обмен.", name="Иван Петров")).asked or ()
    assert "contact" in asked


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("Модуль: Заказы", True),
        ("Ошибка в модуле заказов.", True),
        ("Ошибка в разделе «Маршруты».", True),
        ("The error is in the Orders module.", True),
        ("Модуль: ", False),
        ("Не работает.", False),
    ],
)
def test_modules(text: str, given: bool) -> None:
    asked = judge(make_mail("Ошибка", f"Добрый день!\n{text}")).asked or ()
    assert ("modules" not in asked) is given


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("Шаги: открыть заказ, нажать «Печать».", True),
        ("1. Открыть заказ\n2. Нажать «Печать»", True),
        ("Делаем так: 1. Открыть заказ 2. Нажать «Печать» 3. Ошибка", True),
        ("Открываем заказ, нажимаем «Печать» — ошибка.", True),
        ("Заказы -> Новый заказ -> Сохранить: ошибка.", True),
        ("Steps to reproduce: open an order, tap Print.", True),
        ("Открываю приложение — ошибка.", False),
        ("Версия 1.2. Ошибка при печати.", False),
    ],
)
def test_steps_to_reproduce(text: str, given: bool) -> None:
    asked = judge(make_mail("Ошибка", f"Добрый день!\n{text}")).asked or ()
    assert ("steps_to_reproduce" not in asked) is given


@pytest.mark.parametrize(
    ("text", "impact", "employees"),
    [
        ("Затронуто сотрудников: 12", False, True),
        ("Ошибка у 12 сотрудников.", False, True),
        ("Не могут работать 5 торговых представителей.", True, True),
        ("Проблема у всех агентов.", False, True),
        ("Проблема только у меня.", False, True),
        ("Сотрудников — 40.", False, True),
        ("It affects all users.", False, True),
        ("Из-за этого срываются отгрузки.", True, False),
        ("Влияние: не можем выставлять счета.", True, False),
        ("Impact: orders are not delivered.", True, False),
        ("Ошибка 404 у пользователя.", False, False),
        ("Сотрудников: ", False, False),
    ],
)
def test_impact_and_affected_employees(text: str, impact: bool, employees: bool) -> None:
    asked = judge(make_mail("Ошибка", f"Добрый день!\n{text}")).asked or ()
    assert ("impact" not in asked) is impact
    assert ("affected_employees" not in asked) is employees


def test_description_counts_what_the_customer_wrote_not_greeting_and_signature() -> None:
    short = "Добрый день, коллеги!\nВ Наполеоне не работает обмен.\n\nС уважением, Иван Петров"
    long = short.replace(
        "не работает обмен.",
        "не работает обмен: после нажатия кнопки синхронизации приложение долго думает "
        "и показывает ошибку соединения.",
    )
    assert "description" in (judge(make_mail("Обмен", short)).asked or ())
    assert "description" not in (judge(make_mail("Обмен", long)).asked or ())


@pytest.mark.parametrize(
    ("members", "packer", "given"),
    [
        ({"napoleon.db": b"db"}, zip_of, True),
        ({"device/Backup/base.sqlite": b"db"}, zip_of, True),
        ({"screenshot.png": b"png", "log.txt": b"log"}, zip_of, False),
        ({"napoleon.db": b"db"}, sevenzip_of, True),
        ({"readme.txt": b"txt"}, sevenzip_of, False),
    ],
)
def test_the_database_may_come_packed(
    members: dict[str, bytes], packer: Any, given: bool, tmp_path: Path
) -> None:
    if "napoleon.db" in members:
        members = {"napoleon.db": sqlite_bytes(tmp_path)}
    mail = make_mail(
        "Ромашка-Юг: обмен",
        "Архив каталога обмена: https://disk.yandex.ru/d/Xk3mQ9aLp2",
        attachments=[("base.bin", packer(members), "application/octet-stream")],
    )
    asked = judge(mail).asked or ()
    assert ("mobile_database" not in asked) is given


@pytest.mark.parametrize("packer", [zip_of, sevenzip_of])
def test_an_archive_listing_more_entries_than_allowed_is_not_listed(packer: Any) -> None:
    members = {f"f{i}.txt": b"" for i in range(5)}
    assert member_names(packer(members), max_entries=5) == list(members)
    assert member_names(packer(members), max_entries=4) == []


def test_a_damaged_archive_holds_no_database() -> None:
    mail = make_mail(
        "Ромашка-Юг: обмен",
        "База во вложении.",
        attachments=[("base.zip", b"PK\x03\x04" + b"\x00" * 200, "application/zip")],
    )
    assert "mobile_database" in (judge(mail).asked or ())


@pytest.mark.parametrize(
    ("text", "given"),
    [
        ("Архив каталога обмена: https://disk.yandex.ru/d/Xk3mQ9aLp2", True),
        ("Ссылка на архив обмена:\nhttps://files.romashka.test/exchange/2026-03-10", True),
        ("Выложил выгрузку сюда https://files.romashka.test/x7", True),
        ("Exchange folder archive: https://files.romashka.test/ex.7z", True),
        ("https://drive.google.com/file/d/1AbC/view", True),
        ("Обмен не работает.\n\nС уважением, Иван\nhttps://www.romashka.test", False),
        ("Обмен не работает, архив пришлю позже.", False),
    ],
)
def test_exchange_archive_link(text: str, given: bool) -> None:
    asked = judge(make_mail("Ромашка-Юг: обмен", f"Добрый день!\n{text}\n")).asked or ()
    assert ("exchange_archive_link" not in asked) is given


def test_an_html_only_mail_gives_its_link_in_an_anchor() -> None:
    html = (
        "<html><body><p>Добрый день!</p><p>Проект Ромашка-Юг, не работает обмен.</p>"
        '<p>Вот <a href="https://cloud.mail.ru/public/AbCd/ef">архив каталога обмена</a>.</p>'
        "</body></html>"
    )
    mail = make_mail("Обмен", "", html=html)
    asked = judge(mail).asked or ()
    assert "exchange_archive_link" not in asked and "mobile_database" in asked


def test_a_copied_form_counts_only_the_lines_filled_in() -> None:
    body = """\
Добрый день!

Название проекта или код: AT-20417
Имя и контактные данные: Иван Петров, +7 916 123-45-67
Описание проблемы: после обновления приложения не печатаются накладные на мобильном принтере,
принтер подключён по Bluetooth, тестовая страница печатается нормально, ошибок на экране нет.
Приложения или модули: Печать документов
Шаги для воспроизведения:
Влияние на работу: -
Количество сотрудников: 7
"""
    verdicts = judge(make_mail("Re: Печать", body))
    assert verdicts.asked == ("steps_to_reproduce", "impact")


def test_quoted_history_gives_nothing() -> None:
    body = (
        "Не работает!\n\n10.03.2026 9:15, Петр Сидоров пишет:\n"
        "> Код проекта: AT-20417, шаги: 1. Открыть 2. Нажать\n"
        "> Затронуто сотрудников: 12, тел. +7 916 123-45-67\n"
    )
    assert judge(make_mail("Помогите", body, name="")).asked == SEVEN


def test_settings_choose_the_fields_and_the_description_length() -> None:
    d = desk(
        rule={
            "missing_fields": {
                "fields": ["project", "contact"],
                "product_fields": {"aceteam": ["affected_employees"]},
                "min_description_words": 3,
            }
        }
    )
    mail = make_mail("AT-20417 не работает", "Не работает.\nИван, +7 916 123-45-67")
    assert judge(mail, d).asked == ("affected_employees",)


def test_without_the_product_rule_only_the_customers_projects_tell_the_product() -> None:
    """No products table to share: the product is known from the customer's own projects."""
    alone = {
        **DESK,
        "rules": ["missing_fields"],
        "rule": {"missing_fields": DESK["rule"]["missing_fields"]},
    }
    d = DeskSettings.model_validate(alone)
    by_project = judge(make_mail("Ромашка-Юг: не работает обмен", "Не работает."), d)
    by_word = judge(make_mail("Наполеон: не работает обмен", "Не работает."), d)
    assert "mobile_database" in (by_project.asked or ())
    assert "mobile_database" not in (by_word.asked or ())
    assert "mobile_database" in (
        judge(make_mail("Наполеон: не работает обмен", "Не работает.")).asked or ()
    )


@pytest.mark.parametrize(
    "table",
    [
        {"fields": ["project", "phone"]},
        {"product_fields": {"napoleon": ["database"]}},
        {"min_description_words": -1},
        {"colour": "red"},
    ],
)
def test_bad_settings_stop_start_up(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"rule\.missing_fields\."):
        load_rules(desk(rule={"missing_fields": table}))


# -- follow-ups --------------------------------------------------------------------------------


def waiting(
    missing: Sequence[str],
    text: str = NAPOLEON_PROSE,
    state: str = "waiting_customer",
    attachments: Sequence[str] = (),
) -> Thread:
    return Thread("GRS-000001", state, tuple(missing), text, tuple(attachments))


QUOTE = (
    "\n10.03.2026 12:00, GRSoft пишет:\n> Ваше обращение зарегистрировано под номером"
    " GRS-000001.\n> - Database from the mobile device\n> - Link to the exchange folder"
    " archive\n> Steps to reproduce, impact on work, number of employees affected\n"
)


def test_an_answer_with_all_that_was_owed_completes_the_ticket(tmp_path: Path) -> None:
    mail = make_mail(
        "Re: [GRS-000001] Ромашка-Юг: не синхронизируются остатки",
        "База во вложении, архив обмена: https://disk.yandex.ru/d/Xk3mQ9aLp2" + QUOTE,
        attachments=[("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream")],
    )
    assert judge(mail, thread=waiting(NAPOLEON_ONLY)).asked is None


def test_an_answer_lacking_something_is_asked_for_only_that(tmp_path: Path) -> None:
    mail = make_mail(
        "Re: [GRS-000001] Ромашка-Юг: не синхронизируются остатки",
        "Прикладываю базу." + QUOTE,
        attachments=[("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream")],
    )
    verdicts = judge(mail, thread=waiting(NAPOLEON_ONLY))
    assert verdicts.asked == ("exchange_archive_link",)
    ask = next(v for v in verdicts if v.action == Action.ask)
    assert "follow-up on GRS-000001" in ask.detail


def test_a_database_sent_earlier_on_the_ticket_counts() -> None:
    mail = make_mail(
        "Re: [GRS-000001] обмен", "Ссылка на архив обмена: https://yadi.sk/d/abc" + QUOTE
    )
    thread = waiting(NAPOLEON_ONLY, attachments=["application/vnd.sqlite3"])
    assert judge(mail, thread=thread).asked is None


def test_earlier_text_and_this_answer_count_together() -> None:
    first = "не работает!!!"
    answer = (
        "Проект: Ромашка-Юг. После обновления в модуле склада не обновляются остатки.\n"
        "Открываем приложение, запускаем обмен — ошибка. Так у 5 сотрудников, из-за этого\n"
        "срываются отгрузки.\nИван Петров, +7 916 123-45-67" + QUOTE
    )
    thread = waiting(SEVEN, text=first)
    verdicts = judge(make_mail("Re: [GRS-000001] Помогите", answer), thread=thread)
    # the project is Napoleon's: its own fields are now asked for too
    assert verdicts.asked == NAPOLEON_ONLY


def test_a_follow_up_to_a_ticket_not_waiting_asks_nothing() -> None:
    mail = make_mail("Re: [GRS-000001] Помогите", "Спасибо, всё заработало!")
    assert judge(mail, thread=waiting((), state="open")).asked is None


def test_fields_given_earlier_stay_given() -> None:
    # the first mail was judged complete but for the link: an answer of one line completes it
    thread = waiting(("exchange_archive_link",), text="(the text was longer then)")
    mail = make_mail("Re: [GRS-000001] обмен", "https://disk.yandex.ru/d/Xk3mQ9aLp2")
    assert judge(mail, thread=thread).asked is None


def test_what_was_owed_stays_owed_even_when_the_product_is_not_found_again() -> None:
    thread = waiting(NAPOLEON_ONLY, text="")
    mail = make_mail("Re: [GRS-000001] обмен", "Ссылка на архив: https://yadi.sk/d/abc")
    assert judge(mail, thread=thread).asked == ("mobile_database",)


# -- through the pipeline ----------------------------------------------------------------------

DESK_TOML = """\
name = "grsoft"
title = "GRSoft"
addresses = ["info@grsoft.test"]
language = "ru"
timezone = "Europe/Moscow"
ticket_prefix = "GRS"
fallback_charsets = ["utf-8", "koi8-r", "windows-1251"]
rules = ["loops", "product", "missing_fields"]

[[customers]]
name = "ООО Ромашка"
domains = ["romashka.test"]
designated_contact = "i.petrov@romashka.test"
projects = { napoleon = ["Ромашка-Юг"], aceteam = ["AT-20417"] }

[rule.product.products.napoleon]
keywords = { ru = ["наполеон*"], en = ["napoleon*"] }
project_labels = { ru = ["название проекта", "проект"], en = ["project name", "project"] }

[rule.product.products.aceteam]
keywords = { en = ["aceteam"] }
code_pattern = "AT-\\\\d{4,6}"
project_labels = { ru = ["код проекта"], en = ["project code"] }

[rule.product.products.acepacer]
keywords = { en = ["acepacer"] }
subject_keywords = ["acepacer"]

[rule.missing_fields]
product_fields = { napoleon = ["mobile_database", "exchange_archive_link"] }
min_description_words = 15
"""

# Stand-ins, so these tests do not depend on the wording of the real templates.
TEMPLATES = {
    "ack": "Ticket {{ ticket_number }}: {{ subject }}; due {{ deadline }}\n",
    "missing_fields": "Ticket {{ ticket_number }} needs: {{ missing | join(', ') }}\n",
}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "grsoft.toml").write_text(DESK_TOML)
    templates = tmp_path / "templates" / "en"
    templates.mkdir(parents=True)
    for event, text in TEMPLATES.items():
        (templates / f"{event}.txt.j2").write_text(text)
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}", desks=desks, templates=templates.parent
    )
    application = App.build(config_mod.load(path, environ={}))
    yield application
    application.db.dispose()


def run(app: App, raw: bytes) -> dict[str, Any]:
    return deliver(app, raw, "info@grsoft.test", SENDER).as_json()


def outbox(app: App) -> list[OutboxRow]:
    with Session(app.db.engine) as session:
        return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


def ticket(app: App, number: str) -> Ticket:
    with Session(app.db.engine) as session:
        return session.exec(select(Ticket).where(col(Ticket.number) == number)).one()


def body_of(row: OutboxRow) -> str:
    msg = email.message_from_bytes(row.raw, policy=policy.default)
    return str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


def test_pipeline_a_complete_request_opens_a_ticket_with_its_product(app: App) -> None:
    outcome = run(app, mail_bytes("Не уходят заказы с планшетов", ACETEAM_COMPLETE))
    assert (outcome["outcome"], outcome["missing"], outcome["product"]) == ("ticket", [], "aceteam")
    assert ticket(app, outcome["ticket"]).state == "new"
    assert [row.kind for row in outbox(app)] == ["ack"]


def test_pipeline_the_answer_in_the_thread_completes_the_ticket(app: App, tmp_path: Path) -> None:
    subject = "Ромашка-Юг: не синхронизируются остатки"
    first = run(app, mail_bytes(subject, NAPOLEON_PROSE))
    assert first["outcome"] == "ticket" and first["product"] == "napoleon"
    assert first["missing"] == list(NAPOLEON_ONLY)
    number = first["ticket"]
    opened = ticket(app, number)
    assert opened.state == "waiting_customer"
    assert opened.missing == list(NAPOLEON_ONLY)
    (ask,) = outbox(app)
    assert ask.kind == "missing_fields"
    assert "mobile_database, exchange_archive_link" in body_of(ask)

    quoted = "\n".join(f"> {line}" for line in body_of(ask).splitlines())
    answer = mail_bytes(
        f"Re: [{number}] {subject}",
        "Добрый день!\nБазу прикладываю, архив каталога обмена здесь:\n"
        "https://disk.yandex.ru/d/Xk3mQ9aLp2\n\nИван\n\n"
        f"10.03.2026 12:00, GRSoft пишет:\n{quoted}\n",
        attachments=[("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream")],
        In_Reply_To=ask.message_id,
        References=ask.message_id,
    )
    second = run(app, answer)
    assert (second["outcome"], second["ticket"], second["missing"]) == ("ticket", number, [])
    done = ticket(app, number)
    assert done.state == "open" and done.missing == []
    assert [row.kind for row in outbox(app)] == ["missing_fields", "ack"]


def test_pipeline_an_incomplete_answer_is_asked_again_for_what_remains(
    app: App, tmp_path: Path
) -> None:
    subject = "Ромашка-Юг: не синхронизируются остатки"
    number = run(app, mail_bytes(subject, NAPOLEON_PROSE))["ticket"]
    (ask,) = outbox(app)
    packed = zip_of({"napoleon.db": sqlite_bytes(tmp_path)})
    answer = mail_bytes(
        f"Re: [{number}] {subject}",
        "База во вложении, ссылку на архив пришлю после обеда.\n",
        attachments=[("base.zip", packed, "application/zip")],
        In_Reply_To=ask.message_id,
    )
    second = run(app, answer)
    assert second["ticket"] == number and second["missing"] == ["exchange_archive_link"]
    still = ticket(app, number)
    assert still.state == "waiting_customer"
    assert still.missing == ["exchange_archive_link"]
    rows = outbox(app)
    assert [row.kind for row in rows] == ["missing_fields", "missing_fields"]
    assert body_of(rows[1]).strip().endswith("needs: exchange_archive_link")

    # no In-Reply-To this time: the ticket number in the subject, from the same sender
    link = mail_bytes(f"[{number}] ссылка", "Архив обмена: https://yadi.sk/d/q1w2e3")
    third = run(app, link)
    assert third["ticket"] == number and third["missing"] == []
    assert ticket(app, number).state == "open"
    assert [row.kind for row in outbox(app)] == ["missing_fields", "missing_fields", "ack"]


def test_pipeline_an_empty_request_waits_for_everything(app: App) -> None:
    outcome = run(app, mail_bytes("Помогите", "не работает!!!", name=""))
    assert outcome["missing"] == list(SEVEN)
    assert ticket(app, outcome["ticket"]).state == "waiting_customer"
