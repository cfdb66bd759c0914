"""The annotating rules: product (GRSoft), ticket_type and priority (cloudempiere), category
(Serwisant), sla_level (CleverBox) — each checked directly, then all of them through the
pipeline into the ticket's columns.

Mails are written in each desk's language the way its customers write: greetings,
signatures, quoted history, Slovak without diacritics, an HTML-only mail.
"""

from __future__ import annotations

import ast
import email.utils
import tomllib
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from mailbot import config as config_mod
from mailbot import rules as mailbot_rules
from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.parse import Mail, parse
from mailbot.pipeline import Worker
from mailbot.rules import Action, Context, History, Verdict, load_rules
from mailbot.rules._coupons import Coupons
from mailbot.rules._products import ProductSettings, ProductTable, own_text
from mailbot.service import App
from mailbot.store import Ticket
from tests.conftest import SHIPPED_DESKS, write_config

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def shipped_rules(desk: str) -> dict[str, Any]:
    """The `[rule.*]` tables of a shipped desk file: the vocabularies live there only."""
    tables: dict[str, Any] = tomllib.loads((SHIPPED_DESKS / f"{desk}.toml").read_text())["rule"]
    return tables


GRSOFT_RULES = shipped_rules("grsoft")
CLOUDEMPIERE_RULES = shipped_rules("cloudempiere")


def make_mail(
    subject: str,
    body: str,
    *,
    sender: str = "client@example.test",
    name: str = "",
    html: bool = False,
) -> Mail:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = "support@desk.test"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="example.test")
    msg.set_content(body, subtype="html" if html else "plain")
    return parse(msg.as_bytes(policy=policy.SMTP), accepted_at=NOW)


def make_desk(rules: list[str], rule: dict[str, Any] | None = None, **extra: Any) -> DeskSettings:
    return DeskSettings.model_validate(
        {
            "name": "test",
            "addresses": ["support@desk.test"],
            "ticket_prefix": "TST",
            "rules": rules,
            "rule": rule or {},
            **extra,
        }
    )


def annotate(
    mail: Mail, desk: DeskSettings, now: datetime = NOW
) -> tuple[dict[str, str], list[Verdict]]:
    customer, how = desk.customer_for(mail.from_addr)
    context = Context(desk, mail.from_addr, now, customer, how, None, History())
    verdicts = [v for r in load_rules(desk) if (v := r.check(mail, context)) is not None]
    assert all(v.action == Action.annotate for v in verdicts)
    merged: dict[str, str] = {}
    for verdict in verdicts:
        merged.update(verdict.annotations)
    return merged, verdicts


# -- product (GRSoft) --------------------------------------------------------------------------

GRSOFT = {
    "customers": [
        {
            "name": "ООО Ромашка",
            "domains": ["romashka.test"],
            "projects": {"napoleon": ["Ромашка-Юг"], "aceteam": ["AT-20417"]},
        }
    ]
}


@pytest.mark.parametrize(
    ("subject", "body", "sender", "product"),
    [
        # the customer's own project name, as a word in prose, hyphen or not
        (
            "Не грузятся остатки",
            "Добрый день! В «Ромашка-Юг» пусто.",
            "i@romashka.test",
            "napoleon",
        ),
        ("Не грузятся остатки", "По проекту Ромашка Юг пусто.", "i@romashka.test", "napoleon"),
        # the customer's AceTeam code, in the subject
        ("AT-20417: ошибка", "Добрый день!", "i@romashka.test", "aceteam"),
        # a code of the AceTeam pattern the desk does not know yet
        ("Ошибка", "Код проекта at-55501, не уходят заказы", "x@other.test", "aceteam"),
        # AcePacer in the subject
        ("AcePacer — не строится маршрут", "Добрый день!", "x@other.test", "acepacer"),
        # a labelled project name of a customer the desk does not list
        ("Ошибка", "Название проекта: Берёзка-Север\nНе работает.", "x@other.test", "napoleon"),
        ("Ошибка", "Project code: AT-11111", "x@other.test", "aceteam"),
        # the product named in prose only
        ("Ошибка", "В Наполеоне не работает обмен.", "x@other.test", "napoleon"),
        ("Ошибка", "Nothing works.", "x@other.test", None),
    ],
)
def test_product_from_project_code_subject_or_word(
    subject: str, body: str, sender: str, product: str | None
) -> None:
    desk = make_desk(["product"], {"product": GRSOFT_RULES["product"]}, **GRSOFT)
    annotations, verdicts = annotate(make_mail(subject, body, sender=sender), desk)
    assert annotations.get("product") == product
    if product is not None:
        assert verdicts[0].detail.startswith(f"product {product}: ")


def test_product_reads_the_signature_but_not_quoted_history() -> None:
    desk = make_desk(["product"], {"product": GRSOFT_RULES["product"]}, **GRSOFT)
    signed = "Не работает печать.\n-- \nИван Петров, проект Ромашка-Юг\n"
    quoted = (
        "Не работает печать.\n\nOn Mon, 9 Mar 2026 at 10:00, Petr <p@romashka.test> wrote:\n"
        "> AT-20417 тоже не работает\n"
    )
    assert annotate(make_mail("Печать", signed, sender="i@romashka.test"), desk)[0] == {
        "product": "napoleon"
    }
    assert annotate(make_mail("Печать", quoted, sender="i@romashka.test"), desk)[0] == {}


def test_product_only_acepacer_in_the_subject_names_the_project() -> None:
    table = ProductTable(ProductSettings.model_validate(GRSOFT_RULES["product"]).products)
    in_subject = table.detect("AcePacer: маршрут", "", None)
    in_body = table.detect("Маршрут", own_text("В AcePacer не строится маршрут"), None)
    assert in_subject is not None and in_subject.names_project
    assert in_body is not None and in_body.product == "acepacer" and not in_body.names_project


def test_product_settings_are_checked_at_start_up() -> None:
    bad_regex = {"product": {"products": {"aceteam": {"code_pattern": "AT-(\\d"}}}}
    with pytest.raises(ConfigError, match=r"rule\.product\.products\.aceteam\.code_pattern"):
        load_rules(make_desk(["product"], bad_regex))
    unknown_key = {"product": {"products": {"aceteam": {"pattern": "AT-\\d+"}}}}
    with pytest.raises(ConfigError, match="unknown key"):
        load_rules(make_desk(["product"], unknown_key))


# -- ticket_type (cloudempiere) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "kind"),
    [
        ("Faktúry", "Dobrý deň,\nod rána nefunguje tlač faktúr, systém hlási chybu.", "incident"),
        ("Faktury", "Dobry den, nejde nam tlac faktur, vypisuje chybu.", "incident"),
        (
            "Sklad",
            "Dobrý deň, opakovaná chyba pri uzávierke skladu, každý mesiac to isté.",
            "problem",
        ),
        ("Požiadavka na zmenu", "Prosíme o úpravu tlačovej zostavy objednávky.", "change"),
        ("Dotaz", "Dobrý den, jak nastavit nového uživatele? Děkuji.", "request"),
        ("Export", "Dobrý deň, potrebovali by sme export odberateľov do Excelu.", "request"),
        ("Invoices", "Hello, invoicing is broken since the update, we get an error.", "incident"),
        ("Change request", "Please change the layout of the delivery note.", "change"),
    ],
)
def test_ticket_type(subject: str, body: str, kind: str) -> None:
    desk = make_desk(["ticket_type"], {"ticket_type": CLOUDEMPIERE_RULES["ticket_type"]})
    annotations, _ = annotate(make_mail(subject, body), desk)
    assert annotations == {"type": kind}


def test_ticket_type_default_and_quoted_history() -> None:
    table = {**CLOUDEMPIERE_RULES["ticket_type"], "default": "incident"}
    desk = make_desk(["ticket_type"], {"ticket_type": table})
    body = "Ďakujem.\n\nDňa 9. 3. 2026 Peter napísal:\n> Požiadavka na zmenu reportu\n"
    annotations, verdicts = annotate(make_mail("Re: report", body), desk)
    assert annotations == {"type": "incident"} and "default" in verdicts[0].detail


def test_ticket_type_settings_name_only_known_types() -> None:
    with pytest.raises(ConfigError, match="unknown type 'bug'"):
        load_rules(make_desk(["ticket_type"], {"ticket_type": {"keywords": {"bug": {}}}}))


# -- priority (cloudempiere) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "impact", "urgency", "priority"),
    [
        ("Celá firma nemôže fakturovať, riešte to prosím ihneď!", "high", "high", "P1"),
        ("Celá firma nemôže fakturovať.", "high", "medium", "P2"),
        ("Kritické: oddelenie predaja nevie uložiť objednávky.", "medium", "high", "P2"),
        ("Jeden používateľ nevidí tlačidlo Export, urgentne prosím.", "low", "high", "P3"),
        ("Dobrý deň, nevieme uložiť objednávky.", "medium", "medium", "P3"),
        ("Iba jeden používateľ má zlé písmo, nie je to urgentné.", "low", "low", "P4"),
        ("Whole company cannot invoice, we need it fixed immediately.", "high", "high", "P1"),
        ("Only me, not urgent: a typo in the menu.", "low", "low", "P4"),
    ],
)
def test_priority_from_impact_and_urgency(
    body: str, impact: str, urgency: str, priority: str
) -> None:
    desk = make_desk(["priority"], {"priority": CLOUDEMPIERE_RULES["priority"]})
    annotations, verdicts = annotate(make_mail("Fakturácia", body), desk)
    assert annotations == {"impact": impact, "urgency": urgency, "priority": priority}
    assert verdicts[0].detail.endswith(f"-> {priority}")


def test_priority_matrix_and_defaults_are_the_desks() -> None:
    matrix = {
        "high": {"high": "P1", "medium": "P1", "low": "P2"},
        "medium": {"high": "P2", "medium": "P2", "low": "P3"},
        "low": {"high": "P3", "medium": "P3", "low": "P4"},
    }
    desk = make_desk(
        ["priority"],
        {
            "priority": {
                **CLOUDEMPIERE_RULES["priority"],
                "matrix": matrix,
                "default_impact": "high",
                "default_urgency": "low",
            }
        },
    )
    annotations, _ = annotate(make_mail("Otázka", "Dobrý deň, ako sa mení heslo?"), desk)
    assert annotations == {"impact": "high", "urgency": "low", "priority": "P2"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"matrix": {"high": {"high": "P1"}}}, "no priority for impact high, urgency medium"),
        ({"impact_keywords": {"huge": {"en": ["all"]}}}, "unknown level 'huge'"),
        ({"default_urgency": "extreme"}, "default_urgency"),
    ],
)
def test_priority_settings_are_checked_at_start_up(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_rules(
            make_desk(["priority"], {"priority": {**CLOUDEMPIERE_RULES["priority"], **table}})
        )


# -- vocabularies live in desk files only ---------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "table", "key"),
    [
        ("product", {}, "products"),
        ("ticket_type", {"default": "incident"}, "keywords"),
        ("priority", {"urgency_keywords": {}}, "impact_keywords"),
        ("priority", {"impact_keywords": {}}, "urgency_keywords"),
        ("category", {"default": "other"}, "categories"),
    ],
)
def test_a_rule_without_its_words_stops_start_up_naming_file_and_key(
    rule: str, table: dict[str, Any], key: str
) -> None:
    """No rule falls back on words of its own: a desk that forgot them hears so at start-up."""
    desk = make_desk([rule], {rule: table} if table else {})
    with pytest.raises(ConfigError) as caught:
        load_rules(desk, "config/desks/test.toml")
    assert str(caught.value).startswith(
        f"config/desks/test.toml: rule.{rule}.{key}: Field required"
    )


def test_an_empty_table_is_a_choice_the_desk_may_make() -> None:
    """`{}` written in the desk file is no omission: every mail gets the default."""
    desk = make_desk(["ticket_type"], {"ticket_type": {"keywords": {}, "default": "incident"}})
    annotations, _ = annotate(make_mail("Faktúry", "Nefunguje tlač faktúr."), desk)
    assert annotations == {"type": "incident"}


def test_rules_do_not_import_each_other() -> None:
    """What two rules share lives in a `_*.py` module, so a rule can be dropped on its own."""
    folder = Path(mailbot_rules.__file__).parent
    rules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                imported = {n.removeprefix("mailbot.rules.") for n in names}
                assert not imported & rules, f"{path.name} imports the rule {imported & rules}"


# -- category (Serwisant) ----------------------------------------------------------------------

SERWISANT_CATEGORIES = {
    "category": {
        "categories": {
            "payments": {
                "pl": ["płatnoś*", "subskrypcj*", "abonament*", "faktur*", "przelew*", "kart*"],
                "en": ["payment*", "subscription*", "invoice*"],
            },
            "sms": {"pl": ["sms*"]},
        }
    }
}


@pytest.mark.parametrize(
    ("subject", "body", "category"),
    [
        ("Problem z płatnością", "Dzień dobry,\nnie mogę opłacić abonamentu kartą.", "payments"),
        ("Subskrypcja", "Witam, subskrypcja wygasła mimo przelewu z 3 marca.", "payments"),
        ("Faktura", "Gdzie znajdę fakturę za luty?", "payments"),
        ("SMS-y nie wychodzą", "Od rana nie wysyłają się SMS do klientów.", "sms"),
        ("Drukarka", "Nie drukuje się potwierdzenie przyjęcia naprawy.", None),
    ],
)
def test_category_first_match_wins(subject: str, body: str, category: str | None) -> None:
    desk = make_desk(["category"], SERWISANT_CATEGORIES)
    annotations, _ = annotate(make_mail(subject, body), desk)
    assert annotations.get("category") == category


def test_category_ignores_the_signature_and_falls_back_to_the_default() -> None:
    table = {"category": {**SERWISANT_CATEGORIES["category"], "default": "other"}}
    body = "Nie działa wyszukiwarka napraw.\n-- \nJan Kowalski\nDane do faktury: NIP 123\n"
    annotations, _ = annotate(make_mail("Wyszukiwarka", body), make_desk(["category"], table))
    assert annotations == {"category": "other"}


def test_category_reads_an_html_only_mail() -> None:
    html = (
        "<html><body><p>Dzień dobry,</p><p>nie przeszła <b>płatność</b> online.</p></body></html>"
    )
    desk = make_desk(["category"], SERWISANT_CATEGORIES)
    annotations, _ = annotate(make_mail("Pomocy", html, html=True), desk)
    assert annotations == {"category": "payments"}


# -- sla_level (CleverBox) ---------------------------------------------------------------------

CLEVERBOX = {
    "timezone": "Europe/Kyiv",
    "customers": [
        {
            "name": "ТОВ Вектор",
            "contacts": ["olena@vector.test"],
            "coupons": [
                {"code": "CBX7-K2P9-Q4", "valid_until": date(2026, 12, 31)},
                {"code": "OLD5-A1B2", "valid_until": date(2026, 3, 31)},
            ],
        },
        {
            "name": "ТОВ Альфа",
            "contacts": ["ivan@alfa.test"],
            "coupons": [{"code": "ALFA-9Z8Y-77", "valid_until": date(2027, 1, 31)}],
        },
    ],
}


@pytest.mark.parametrize(
    ("subject", "body", "level"),
    [
        (
            "Упала CRM",
            "Добрый день! Купон: CBX7-K2P9-Q4. Не открывается модуль продаж.",
            "emergency",
        ),
        ("[cbx7-k2p9-q4] Упала CRM", "Не открывается модуль продаж.", "emergency"),
        ("Упала CRM", "Срочно!\n\n--\nОлена Коваль\nкупон «CBX7-K2P9-Q4»", "emergency"),
        ("Упала CRM", "Купон CBX7-K2P9-Q4X не подходит?", "standard"),
        ("Упала CRM", "Не открывается модуль продаж.", "standard"),
    ],
)
def test_sla_level_emergency_only_with_the_customers_valid_coupon(
    subject: str, body: str, level: str
) -> None:
    desk = make_desk(["sla_level"], **CLEVERBOX)
    annotations, verdicts = annotate(make_mail(subject, body, sender="olena@vector.test"), desk)
    assert annotations == {"sla_level": level}
    assert verdicts[0].detail.startswith(f"{level}: ")


def test_sla_level_a_coupon_is_valid_through_its_last_day_in_the_desks_time_zone() -> None:
    desk = make_desk(["sla_level"], **CLEVERBOX)
    mail = make_mail("Упала CRM", "Купон OLD5-A1B2", sender="olena@vector.test")
    last_evening = datetime(2026, 3, 31, 20, 30, tzinfo=UTC)  # 23:30 in Kyiv
    past_midnight = datetime(2026, 3, 31, 21, 30, tzinfo=UTC)  # 00:30 on April 1 in Kyiv
    assert annotate(mail, desk, last_evening)[0] == {"sla_level": "emergency"}
    annotations, verdicts = annotate(mail, desk, past_midnight)
    assert annotations == {"sla_level": "standard"}
    assert "OLD5-A1B2" in verdicts[0].detail and "expired on 2026-03-31" in verdicts[0].detail


def test_sla_level_another_customers_coupon_gives_standard_and_says_why() -> None:
    desk = make_desk(["sla_level"], **CLEVERBOX)
    borrowed = make_mail("Упала CRM", "Купон ALFA-9Z8Y-77", sender="olena@vector.test")
    annotations, verdicts = annotate(borrowed, desk)
    assert annotations == {"sla_level": "standard"}
    assert "belongs to ТОВ Альфа" in verdicts[0].detail and "ТОВ Вектор" in verdicts[0].detail
    stranger = make_mail("Упала CRM", "Купон ALFA-9Z8Y-77", sender="who@nowhere.test")
    annotations, verdicts = annotate(stranger, desk)
    assert annotations == {"sla_level": "standard"}
    assert "unidentified sender" in verdicts[0].detail


def test_sla_level_takes_no_settings() -> None:
    with pytest.raises(ConfigError, match="takes no settings"):
        load_rules(make_desk(["sla_level"], {"sla_level": {"levels": ["x"]}}))


def test_coupon_check_is_shared() -> None:
    desk = make_desk(["sla_level"], **CLEVERBOX)
    mail = make_mail("x", "CBX7-K2P9-Q4", sender="olena@vector.test")
    customer, how = desk.customer_for(mail.from_addr)
    found = Coupons(desk.customers).check(mail, Context(desk, None, NOW, customer, how))
    assert (found.level, found.coupon) == ("emergency", "CBX7-K2P9-Q4")


# -- through the pipeline ----------------------------------------------------------------------

DESK_TOML = """\
name = "allin"
addresses = ["support@allin.test"]
language = "ru"
timezone = "Europe/Kyiv"
ticket_prefix = "ALL"
rules = ["loops", "product", "ticket_type", "priority", "category", "sla_level"]

[[customers]]
name = "ТОВ Вектор"
contacts = ["olena@vector.test"]
projects = { napoleon = ["Вектор-Захід"] }
coupons = [{ code = "CBX7-K2P9-Q4", valid_until = 2099-12-31 }]

[rule.product.products.napoleon]
keywords = { ru = ["наполеон*"] }

[rule.ticket_type.keywords]
change = { ru = ["доработк*"] }
incident = { ru = ["не работает", "ошибк*", "не проходит"] }

[rule.priority.impact_keywords]
high = { ru = ["вся компания", "все сотрудники"] }

[rule.priority.urgency_keywords]
high = { ru = ["срочно"] }

[rule.category.categories]
payments = { ru = ["оплат*", "счет*", "подписк*"] }
"""

TEMPLATES = {"ack": "Ticket {{ ticket_number }}\n"}


@pytest.fixture
def app(tmp_path: Path) -> App:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "allin.toml").write_text(DESK_TOML)
    (tmp_path / "templates" / "en").mkdir(parents=True)
    for event, text in TEMPLATES.items():
        (tmp_path / "templates" / "en" / f"{event}.txt.j2").write_text(text)
    path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'mailbot.db'}",
        desks=desks,
        templates=tmp_path / "templates",
    )
    return App.build(config_mod.load(path, environ={}))


def test_pipeline_fills_the_ticket_columns(app: App) -> None:
    msg = EmailMessage()
    msg["From"] = "Олена Коваль <olena@vector.test>"
    msg["To"] = "support@allin.test"
    msg["Subject"] = "Вектор-Захід: не проходит оплата подписки"
    msg["Message-ID"] = email.utils.make_msgid(domain="vector.test")
    msg.set_content(
        "Добрый день!\n\nС утра не проходит оплата подписки, у всех сотрудников ошибка.\n"
        "Срочно, пожалуйста!\n\nС уважением, Олена Коваль\nКупон: CBX7-K2P9-Q4\n"
    )
    raw = msg.as_bytes(policy=policy.SMTP)
    spool_id = app.spool.accept(
        raw, "smtp", mail_from="olena@vector.test", rcpt_to=["support@allin.test"]
    )
    worker = Worker(app.pipeline)
    try:
        (outcome,) = worker.run_items(app.spool.claim(worker.name, 1, ids=[spool_id]))
    finally:
        worker.close()
    result = outcome.as_json()
    expected = {
        "product": "napoleon",
        "type": "incident",
        "impact": "medium",
        "urgency": "high",
        "priority": "P2",
        "category": "payments",
        "sla_level": "emergency",
    }
    assert result["outcome"] == "ticket" and result["missing"] == []
    assert {key: result[key] for key in expected} == expected
    with Session(app.db.engine) as session:
        ticket = session.exec(select(Ticket).where(col(Ticket.number) == result["ticket"])).one()
    assert {key: getattr(ticket, key) for key in expected} == expected
