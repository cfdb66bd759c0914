"""What a desk does and does not do: out_of_scope and not_entitled, on the keyword lists and
conditions proposed for the shipped desks (POLICIES.md §1, §2, §4, §5 and the seeds), with mails
as customers write them in Polish, Russian, Ukrainian, Slovak, Persian and English.
"""

# ruff: noqa: E501
# (the desk files below are TOML as shipped: a keyword phrase is one string, however long)

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from mailbot.config import DeskSettings, Package
from mailbot.errors import ConfigError
from mailbot.prepaid import expiry
from mailbot.rules import load_rules
from mailbot.service import App
from tests.conftest import SHIPPED_DESKS, deliver
from tests.helpers import (
    NOW,
    build_app,
    check,
    context,
    message,
    parsed,
    replies,
)

# -- the shipped desks (rules, their settings, and the example customers of issue 3) -------

SERWISANT = (SHIPPED_DESKS / "serwisant.toml").read_text()

CLEVERBOX = (SHIPPED_DESKS / "cleverbox.toml").read_text()

CLOUDEMPIERE = (SHIPPED_DESKS / "cloudempiere.toml").read_text()

CRMONLINE = (SHIPPED_DESKS / "crmonline.toml").read_text()


def load_desk(text: str, **overrides: Any) -> DeskSettings:
    data = tomllib.loads(text)
    data.update(overrides)
    return DeskSettings.model_validate(data)


def with_customer(text: str, **customer: Any) -> DeskSettings:
    """The desk with one customer of our own making, writing from test@client.test."""
    return load_desk(
        text, customers=[{"name": "Test", "contacts": ["test@client.test"], **customer}]
    )


SIGNATURE_PL = (
    "\n-- \nJan Kowalski\nAuto-Serwis Kowalski, ul. Długa 5, Bielsko-Biała\ntel. 604 123 456\n"
)


def pl_mail(subject: str, text: str, sender: str = "jan@kowalski-serwis.test") -> bytes:
    return message(
        subject,
        f"Dzień dobry,\n\n{text}\n\nPozdrawiam{SIGNATURE_PL}",
        sender=sender,
        name="Jan Kowalski",
        to="pomoc@serwisant.test",
    )


# -- out_of_scope: Serwisant -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "text", "exclusion"),
    [
        (
            "Panel kliencki nie działa",
            "panel kliencki zainstalowany na naszym serwerze przestał działać po aktualizacji PHP do 8.3.",
            "client_panel_own_hosting",
        ),
        (
            "Komputer w serwisie",
            "komputer w recepcji nie włącza się od rana, a na nim mamy Serwisanta. Co robić?",
            "own_it",
        ),
        (
            "Sieć",
            "potrzebujemy pomocy z konfiguracją sieci w nowym punkcie, drukarka fiskalna nie widzi routera.",
            "own_it",
        ),
        (
            "Wygląd wydruku",
            "chcielibyśmy zmienić wygląd szablonu wydruku protokołu przyjęcia: inne logo i większa czcionka.",
            "template_restyling",
        ),
        (
            "Usunięcie klientów",
            "prosimy o usunięcie wszystkich klientów z bazy, import poszedł dwa razy i mamy duplikaty.",
            "data_operations",
        ),
        (
            "Zmiana stanów",
            "czy możecie zmienić stan 40 napraw z „w realizacji” na „wydane”? Zapomnieliśmy je zamknąć.",
            "data_operations",
        ),
        (
            "Klient nie może się zalogować",
            "nasz klient nie może zalogować się do panelu klienta, twierdzi że nie dostał hasła.",
            "end_client_support",
        ),
        (
            "Propozycja",
            "proponujemy dodanie funkcji eksportu napraw do Excela, bardzo by nam się przydała.",
            "new_features",
        ),
        (
            "Feature request: Excel export",
            "could you add a feature to export repairs to Excel?",
            "new_features",
        ),
    ],
)
def test_serwisant_exclusions_are_refused_by_name(subject: str, text: str, exclusion: str) -> None:
    the_desk = load_desk(SERWISANT)
    verdict = check(the_desk, parsed(pl_mail(subject, text)))
    assert verdict is not None and verdict.reason == "out_of_scope"
    assert verdict.values["exclusion"] == exclusion
    assert set(verdict.values) == {"exclusion", "exclusion_title", "refer_to"}
    assert set(verdict.values["exclusion_title"]) == {"pl", "en"}


def test_serwisant_refer_to_says_who_to_ask_where_the_regulation_says() -> None:
    the_desk = load_desk(SERWISANT)
    own_it = check(the_desk, parsed(pl_mail("Internet", "internet nie działa w całym serwisie.")))
    assert own_it is not None and own_it.values["refer_to"] == {
        "pl": "Państwa informatyk lub administrator sieci",
        "en": "your IT administrator",
    }
    data = check(the_desk, parsed(pl_mail("Klienci", "prosimy usunąć klienta Jan Nowak.")))
    assert data is not None and data.values["refer_to"] is None


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        (
            "SMS nie dochodzą",
            "od wczoraj SMS o gotowej naprawie nie dochodzą do klientów. Bramka SMSAPI.",
        ),
        (
            "Błąd przy usuwaniu",
            "nie mogę usunąć klienta, pojawia się błąd 500. Co może być przyczyną?",
        ),
        (
            "Status naprawy",
            "jak zmienić status naprawy na „gotowe do odbioru”, żeby klient dostał SMS?",
        ),
        (
            "Płatność",
            "płatność online przez Przelewy24 nie zmieniła stanu zlecenia, klient zapłacił.",
        ),
        ("Kurier", "status przesyłki DPD nie zmienia się od trzech dni, paczka jest doręczona."),
        ("Reklamacja", "pobrano podwójną opłatę za subskrypcję, proszę o zwrot."),
        ("Zablokowany e-mail", "nasz adres e-mail został zablokowany, nie wychodzą wiadomości."),
        ("Aplikacja nie działa", "aplikacja nie działa od rana, strona się nie ładuje."),
        ("Logo", "logo na wydruku się nie wyświetla od ostatniej aktualizacji."),
        ("Zmiana", "dlaczego zmieniło się działanie przycisku „Zapisz”? Teraz zamyka okno."),
        ("Faktura", "prosimy o zmianę danych firmy na fakturze za subskrypcję."),
        ("Nowy pracownik", "jak dodać nowego pracownika i nadać mu uprawnienia do napraw?"),
    ],
)
def test_serwisant_ordinary_requests_pass(subject: str, text: str) -> None:
    assert check(load_desk(SERWISANT), parsed(pl_mail(subject, text))) is None


def test_the_signature_and_quoted_history_are_not_read() -> None:
    """A computer shop's signature names its own trade; a quote is someone else's words."""
    body = (
        "Dzień dobry,\n\nSMS o gotowej naprawie nie dochodzą do klientów od wczoraj.\n\n"
        "W dniu 18.11.2026 Jan napisał:\n"
        "> Prosimy o usunięcie klientów z bazy, zrobiliśmy import dwa razy.\n\n"
        "-- \nSerwis Komputerowy BIT — naprawa komputerów, konfiguracja sieci, hosting stron\n"
    )
    raw = message("SMS", body, sender="jan@kowalski-serwis.test", to="pomoc@serwisant.test")
    assert check(load_desk(SERWISANT), parsed(raw)) is None


def test_exclusions_are_for_new_requests_only() -> None:
    the_desk = load_desk(SERWISANT)
    mail = parsed(pl_mail("Re: [SRW-000004] SMS", "a przy okazji: prosimy usunąć klienta Nowak."))
    assert check(the_desk, mail, context(the_desk, mail, thread="SRW-000004")) is None


def test_an_installation_request_is_no_exclusion_but_an_entitlement() -> None:
    """'On our server' must not make the all-in-one installation an own-hosting problem."""
    the_desk = with_customer(SERWISANT, plan="all-in-one", plan_since=date(2026, 10, 1))
    raw = pl_mail(
        "Instalacja panelu",
        "prosimy o instalację panelu klienckiego na naszym serwerze.",
        sender="test@client.test",
    )
    assert check(the_desk, parsed(raw)) is None


# -- out_of_scope: CleverBox, with the emergency coupon ----------------------------------------


def ru_mail(
    subject: str, text: str, sender: str = "olena@vector.test", name: str = "Олена"
) -> bytes:
    body = f"Добрый день!\n\n{text}\n\nС уважением,\n{name}\n"
    return message(subject, body, sender=sender, name=name)


def test_cleverbox_accounting_consulting_is_refused_with_whom_to_ask() -> None:
    verdict = check(
        load_desk(CLEVERBOX),
        parsed(
            ru_mail(
                "Учёт", "Подскажите, как правильно вести складской учёт возвратов от покупателей?"
            )
        ),
    )
    assert verdict is not None and verdict.values["exclusion"] == "accounting_consulting"
    assert verdict.values["refer_to"]["ru"].startswith("ваш менеджер CleverBox:CRM")
    assert set(verdict.values["exclusion_title"]) == {"ru", "uk", "en"}


@pytest.mark.parametrize(
    ("subject", "text", "exclusion"),
    [
        ("Хостинг", "Наш хостинг-провайдер сменил IP, и сайт перестал открываться.", "hosting"),
        ("Домен", "Как продлить домен vector.ua? Истекает через неделю.", "hosting"),
        (
            "Антивирус",
            "Антивирус блокирует CRM, как настроить антивирус Касперского?",
            "third_party_software",
        ),
        (
            "Облік",
            "Потрібна консультація з управлінського обліку: як рахувати маржу?",
            "accounting_consulting",
        ),
        (
            "Додаток",
            "Сторонній додаток для розсилок не синхронізується з телефоном.",
            "third_party_software",
        ),
        ("DNS", "Не приходять листи після зміни DNS записів домену.", "hosting"),
    ],
)
def test_cleverbox_exclusions_in_russian_and_ukrainian(
    subject: str, text: str, exclusion: str
) -> None:
    verdict = check(load_desk(CLEVERBOX), parsed(ru_mail(subject, text)))
    assert verdict is not None and verdict.values["exclusion"] == exclusion


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Склад", "Ошибка в модуле складского учёта при списании товара: «Недостаточно остатка»."),
        (
            "Вход",
            "Не могу войти в учётную запись, пишет «неверный пароль». Нужна консультация по учётной записи.",
        ),
        ("Звонки", "Как вести учёт звонков менеджеров в CRM?"),
        ("1С", "Не работает интеграция с 1С, не выгружаются заказы со вчерашнего дня."),
        ("Звіт", "Не працює звіт по продажах після оновлення, і не можу увійти в обліковий запис."),
        ("Срочно", "Прошу восстановить работу модуля Склад, срочно! Стоит вся отгрузка."),
        ("Пользователь", "Сторонний пользователь зашёл по ссылке в отчёт, как закрыть доступ?"),
    ],
)
def test_cleverbox_ordinary_requests_pass(subject: str, text: str) -> None:
    assert check(load_desk(CLEVERBOX), parsed(ru_mail(subject, text))) is None


ACCOUNTING = "Нужна консультация по управленческому учёту: как распределять расходы по отделам?"


@pytest.mark.parametrize(
    ("where", "code", "valid_until", "now", "passes"),
    [
        ("subject", "CBX7-Q2M9-K4", date(2027, 3, 31), NOW, True),
        ("body", "cbx7-q2m9-k4", date(2027, 3, 31), NOW, True),  # letter case does not matter
        ("signature", "CBX7-Q2M9-K4", date(2027, 3, 31), NOW, True),
        ("body", "CBX7-Q2M9-K4", date(2026, 11, 20), NOW, True),  # valid through today
        ("body", "CBX7-Q2M9-K4", date(2026, 11, 19), NOW, False),  # expired yesterday
        # 22:30 UTC on the 20th is already the 21st in Kyiv: a coupon of the 20th has expired
        (
            "body",
            "CBX7-Q2M9-K4",
            date(2026, 11, 20),
            datetime(2026, 11, 20, 22, 30, tzinfo=UTC),
            False,
        ),
        ("body", "CBX7-Q2M9-K5", date(2027, 3, 31), NOW, False),  # not this customer's code
        ("body", "XCBX7-Q2M9-K4", date(2027, 3, 31), NOW, False),  # only the whole code counts
    ],
)
def test_an_emergency_coupon_lifts_the_accounting_exclusion(
    where: str, code: str, valid_until: date, now: datetime, passes: bool
) -> None:
    the_desk = load_desk(
        CLEVERBOX,
        customers=[
            {
                "name": "Гамма",
                "contacts": ["ops@gamma.test"],
                "coupons": [{"code": "CBX7-Q2M9-K4", "valid_until": valid_until}],
            }
        ],
    )
    subject = f"Купон {code}: учёт" if where == "subject" else "Учёт"
    body = f"Добрый день!\n\n{ACCOUNTING}\n"
    if where == "body":
        body += f"Наш купон экстренной поддержки: {code}\n"
    body += "\nСпасибо!\n-- \nОльга, Гамма\n"
    if where == "signature":
        body += f"Купон поддержки {code}\n"
    mail = parsed(message(subject, body, sender="ops@gamma.test"))
    verdict = check(the_desk, mail, context(the_desk, mail, now=now))
    assert (verdict is None) is passes
    if verdict is not None:
        assert verdict.values["exclusion"] == "accounting_consulting"


def test_a_coupon_lifts_only_the_exclusion_that_yields_to_it() -> None:
    the_desk = load_desk(CLEVERBOX)
    raw = ru_mail(
        "Хостинг",
        "Купон CBX7-Q2M9-K4. Наш хостинг упал, помогите перенести сайт.",
        sender="ops@gamma.test",
    )
    verdict = check(the_desk, parsed(raw))
    assert verdict is not None and verdict.values["exclusion"] == "hosting"


# -- out_of_scope: cloudempiere and crmonline --------------------------------------------------


def sk_mail(subject: str, text: str) -> bytes:
    body = f"Dobrý deň,\n\n{text}\n\nĎakujem,\nPeter Horváth\nTatra Logistics s.r.o.\n"
    return message(
        subject,
        body,
        sender="horvath@tatralog.test",
        name="Peter Horváth",
        to="podpora@cloudempiere.test",
    )


@pytest.mark.parametrize(
    ("subject", "text", "exclusion"),
    [
        (
            "Oprava údajov",
            "prosím, opravte údaje v objednávke 2026/123, zadali sme zlú cenu.",
            "user_data_changes",
        ),
        ("Sklad", "zmažte prosím záznamy o inventúre z minulého týždňa.", "user_data_changes"),
        (
            "Databáza",
            "potrebujeme zásah do databázy, zlé DPH na 200 dokladoch.",
            "user_data_changes",
        ),
        (
            "Kontrola",
            "môžete sa prihlásiť do nášho prostredia a pozrieť sa na to?",
            "customer_environment_login",
        ),
        (
            "Pripojenie",
            "posielam TeamViewer ID 123 456 789, heslo pošlem SMS.",
            "customer_environment_login",
        ),
    ],
)
def test_cloudempiere_refuses_data_changes_and_logins_by_mail(
    subject: str, text: str, exclusion: str
) -> None:
    verdict = check(load_desk(CLOUDEMPIERE), parsed(sk_mail(subject, text)))
    assert verdict is not None and verdict.values["exclusion"] == exclusion


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Prihlásenie", "nemôžeme sa prihlásiť do nášho systému, hlási chybu 403."),
        ("Faktúra", "opravte chybu vo faktúre č. 123, prosím, počíta zle DPH."),
        ("Otázka", "ako upraviť údaje zákazníka v module CRM?"),
        ("Heslo", "prosím o zmenu hesla pre nového používateľa."),
        ("Tlač", "nefunguje tlač faktúr, tlačidlo nereaguje."),
    ],
)
def test_cloudempiere_incidents_and_questions_pass(subject: str, text: str) -> None:
    assert check(load_desk(CLOUDEMPIERE), parsed(sk_mail(subject, text))) is None


def fa_mail(subject: str, text: str, sender: str = "ali@nemooneh.test") -> bytes:
    body = f"سلام وقت بخیر\n\n{text}\n\nبا تشکر\nعلی رضایی\n"
    return message(subject, body, sender=sender, name="علی رضایی", to="support@crmonline.test")


def test_crmonline_onsite_support_goes_to_sales() -> None:
    verdict = check(
        load_desk(CRMONLINE), parsed(fa_mail("پشتیبانی", "لطفا برای نصب، کارشناس حضوری بفرستید."))
    )
    assert verdict is not None and verdict.values["exclusion"] == "onsite_support"
    assert verdict.values["refer_to"] == {
        "fa": "بخش فروش crmonline",
        "en": "crmonline's sales department",
    }


# -- not_entitled: Serwisant -------------------------------------------------------------------

TRAINING = "chcielibyśmy umówić bezpłatne szkolenie wideo dla dwóch nowych pracowników."


@pytest.mark.parametrize(
    ("plan", "since", "now", "why"),
    [
        ("standard", date(2026, 11, 10), NOW, None),
        ("all-in-one", date(2026, 10, 21), NOW, None),  # 30 days ago today: still within
        ("all-in-one", date(2026, 10, 20), NOW, "period_over"),  # 31 days ago
        # 23:30 UTC on the 20th is the 21st in Warsaw: the 30 days of 21 October are over
        ("standard", date(2026, 10, 21), datetime(2026, 11, 20, 23, 30, tzinfo=UTC), "period_over"),
        ("standard", None, NOW, "period_over"),  # no start date: not proven within
        ("trial", date(2025, 1, 1), NOW, None),  # a trial account, however long
        ("basic", date(2026, 11, 15), NOW, "not_in_plan"),
        (None, None, NOW, "not_in_plan"),
    ],
)
def test_free_training_only_on_trial_or_in_the_first_30_days(
    plan: str | None, since: date | None, now: datetime, why: str | None
) -> None:
    the_desk = with_customer(SERWISANT, plan=plan, plan_since=since)
    mail = parsed(pl_mail("Szkolenie", TRAINING, sender="test@client.test"))
    verdict = check(the_desk, mail, context(the_desk, mail, now=now))
    assert (verdict.values["why"] if verdict else None) == why
    if verdict is not None:
        assert verdict.reason == "not_entitled" and verdict.values["entitlement"] == "training"
        assert set(verdict.values) == {"entitlement", "entitlement_title", "why"}


@pytest.mark.parametrize(
    ("sender", "why"),
    [
        ("it@megaserwis.test", "already_used"),  # all-in-one, installation used
        ("jan@kowalski-serwis.test", "not_in_plan"),  # standard
        ("nowy@serwis-nowy.test", "unknown_customer"),
    ],
)
def test_the_client_panel_installation_is_once_and_all_in_one_only(sender: str, why: str) -> None:
    raw = pl_mail(
        "Instalacja panelu",
        "prosimy o instalację panelu klienckiego na naszym serwerze.",
        sender=sender,
    )
    verdict = check(load_desk(SERWISANT), parsed(raw))
    assert verdict is not None and verdict.values["entitlement"] == "client_panel_installation"
    assert verdict.values["why"] == why


def test_the_first_installation_of_an_all_in_one_customer_passes() -> None:
    the_desk = with_customer(SERWISANT, plan="all-in-one", plan_since=date(2025, 6, 1))
    raw = pl_mail(
        "Panel",
        "prosimy o zainstalowanie panelu klienckiego na serwerze panel.firma.pl.",
        sender="test@client.test",
    )
    assert check(the_desk, parsed(raw)) is None


def test_a_mention_of_past_training_asks_for_nothing() -> None:
    raw = pl_mail(
        "Technicy",
        "po szkoleniu nadal nie wiem, jak przypisać technika do naprawy.",
        sender="biuro@elektronowak.test",
    )
    assert check(load_desk(SERWISANT), parsed(raw)) is None


def test_entitlements_are_for_new_requests_only() -> None:
    the_desk = load_desk(SERWISANT)
    mail = parsed(pl_mail("Re: [SRW-000002] Pytanie", TRAINING, sender="biuro@elektronowak.test"))
    assert check(the_desk, mail, context(the_desk, mail, thread="SRW-000002")) is None


# -- not_entitled: crmonline packages ----------------------------------------------------------

PHONE = "لطفا برای راهنمایی در مورد گزارش فروش با من تماس بگیرید."


def test_a_package_is_valid_one_solar_hijri_year() -> None:
    assert _expiry("1405-01-15") == date(2027, 4, 4)  # 1406-01-15
    assert _expiry("1403-12-30") == date(2026, 3, 20)  # Esfand 30 (leap) -> 1404-12-29
    with pytest.raises(ValueError, match="not a Solar Hijri date"):
        _expiry("1405-13-01")


@pytest.mark.parametrize(
    ("package", "now", "why"),
    [
        ({"hours": 10, "purchased": "1405-01-15"}, NOW, None),
        # the last day of validity, 1406-01-14, in Tehran
        ({"hours": 10, "purchased": "1405-01-15"}, datetime(2027, 4, 3, 20, 0, tzinfo=UTC), None),
        # 20:45 UTC on 3 April is 00:15 on 4 April (1406-01-15) in Tehran: expired
        (
            {"hours": 10, "purchased": "1405-01-15"},
            datetime(2027, 4, 3, 20, 45, tzinfo=UTC),
            "package_expired",
        ),
        ({"hours": 10, "purchased": "1404-08-29"}, NOW, "package_expired"),  # 20 Nov 2025 + 1 year
        ({"hours": 10, "purchased": "1405-01-15", "used_hours": 10}, NOW, "no_balance"),
        ({"hours": 10, "purchased": "1405-01-15", "used_hours": 9.5}, NOW, None),
        (None, NOW, "no_package"),
    ],
)
def test_paid_services_need_an_unexpired_package_with_hours_left(
    package: dict[str, Any] | None, now: datetime, why: str | None
) -> None:
    the_desk = with_customer(CRMONLINE, package=package)
    mail = parsed(fa_mail("تماس", PHONE, sender="test@client.test"))
    verdict = check(the_desk, mail, context(the_desk, mail, now=now))
    assert (verdict.values["why"] if verdict else None) == why
    if verdict is not None:
        assert verdict.values["entitlement"] == "phone_support"
        assert verdict.values["entitlement_title"] == {
            "fa": "پشتیبانی تلفنی",
            "en": "phone support",
        }


@pytest.mark.parametrize(
    ("text", "entitlement"),
    [
        (PHONE, "phone_support"),
        ("لطفا از راه دور وصل شوید و مشکل همگام‌سازی را بررسی کنید.", "technical_services"),
        ("برای همکاران جدید جلسه آموزش می‌خواهیم.", "training"),
        # typed on an Arabic keyboard (ي, ك) and without the zero-width non-joiner
        ("لطفا پشتيباني تلفني براي ما فعال كنيد.", "phone_support"),
        ("Could you please call me back about the sales report?", "phone_support"),
    ],
)
def test_crmonline_paid_services_without_a_package(text: str, entitlement: str) -> None:
    verdict = check(
        load_desk(CRMONLINE), parsed(fa_mail("درخواست", text, sender="sara@parsdata.test"))
    )
    assert verdict is not None and verdict.values["entitlement"] == entitlement
    assert verdict.values["why"] == "no_package"


@pytest.mark.parametrize(
    "text",
    [
        "سرویس از صبح در دسترس نیست و صفحه ورود باز نمی‌شود.",
        "نحوه ثبت تماس تلفنی در CRM چیست؟ ثبت تماس تلفنی کار نمی‌کند.",
        "لینک ویدیو آموزشی گزارش‌ها کجاست؟",
        "آیا امکان سفارشی‌سازی فرم‌ها وجود دارد؟",
        "در بخش طراحی فرآیند خطا می‌دهد.",
    ],
)
def test_crmonline_free_support_questions_pass_without_a_package(text: str) -> None:
    assert (
        check(load_desk(CRMONLINE), parsed(fa_mail("سوال", text, sender="sara@parsdata.test")))
        is None
    )


@pytest.mark.parametrize("sender", ["sara@parsdata.test", "ali@nemooneh.test"])
def test_crmonline_analysis_and_design_need_a_contract_whatever_the_package(sender: str) -> None:
    text = "برای تحلیل و طراحی فرآیند فروش نیاز به کمک داریم."
    verdict = check(load_desk(CRMONLINE), parsed(fa_mail("درخواست", text, sender=sender)))
    assert verdict is not None and verdict.values["entitlement"] == "analysis_design"
    assert verdict.values["why"] == "separate_contract"


def test_an_unknown_sender_asking_for_a_paid_service_is_told_so() -> None:
    verdict = check(load_desk(CRMONLINE), parsed(fa_mail("تماس", PHONE, sender="x@unknown.test")))
    assert verdict is not None and verdict.values["why"] == "unknown_customer"


def test_the_package_customer_gets_phone_support() -> None:
    assert check(load_desk(CRMONLINE), parsed(fa_mail("تماس", PHONE))) is None


# -- settings are checked at start-up ----------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "settings", "message_part"),
    [
        ("out_of_scope", {}, "rule.out_of_scope.exclusions: Field required"),
        (
            "out_of_scope",
            {"exclusions": [{"name": "x", "title": {"en": "X"}, "keywords": {"en": ["*"]}}]},
            "`*` goes at the end",
        ),
        (
            "out_of_scope",
            {
                "exclusions": [
                    {"name": "x", "title": {"en": "X"}, "keywords": {"en": ["{a,{b,c}} d"]}}
                ]
            },
            "unbalanced braces",
        ),
        (
            "out_of_scope",
            {"exclusions": [{"name": "x", "title": {"en": "X"}, "keywords": {"en": ["a b"]}}] * 2},
            "listed twice",
        ),
        (
            "out_of_scope",
            {
                "exclusions": [
                    {
                        "name": "x",
                        "title": {"en": "X"},
                        "keywords": {"en": ["ab"]},
                        "unless_sla_level": "gold",
                    }
                ]
            },
            "unless_sla_level",
        ),
        (
            "not_entitled",
            {
                "entitlements": [
                    {
                        "name": "x",
                        "title": {"en": "X"},
                        "keywords": {"en": ["ab"]},
                        "once_flag": "plan",
                    }
                ]
            },
            "installation_used",
        ),
        (
            "not_entitled",
            {
                "entitlements": [
                    {"name": "x", "title": {"en": "X"}, "keywords": {"en": ["ab"]}, "plan": ["a"]}
                ]
            },
            "unknown key",
        ),
    ],
)
def test_bad_settings_stop_start_up_naming_the_key(
    rule: str, settings: dict[str, Any], message_part: str
) -> None:
    the_desk = load_desk(SERWISANT, rules=[rule], rule={rule: settings})
    with pytest.raises(ConfigError) as caught:
        load_rules(the_desk)
    assert message_part in str(caught.value)


def test_every_proposed_desk_loads() -> None:
    for text in (SERWISANT, CLEVERBOX, CLOUDEMPIERE, CRMONLINE):
        the_desk = load_desk(text)
        assert [r.name for r in load_rules(the_desk)] == the_desk.rules


# -- through the pipeline ----------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = build_app(
        tmp_path,
        f"sqlite:///{tmp_path / 'mailbot.db'}",
        {
            "serwisant": SERWISANT,
            "cleverbox": CLEVERBOX,
            "crmonline": CRMONLINE,
            "cloudempiere": CLOUDEMPIERE,
        },
    )
    yield application
    application.db.dispose()


def test_pipeline_serwisant_training_and_exclusions(app: App) -> None:
    raw = pl_mail("Szkolenie", TRAINING, sender="biuro@elektronowak.test")
    refused = deliver(app, raw, rcpt="pomoc@serwisant.test")
    assert (refused.outcome, refused.reason, refused.ticket) == (
        "quarantined",
        "not_entitled",
        None,
    )
    kind, body = replies(app)[-1]
    assert kind == "not_entitled" and "entitlement=training why=not_in_plan" in body
    assert "bezpłatne godzinne szkolenie wideo" in body and body.endswith("lang=pl\n")

    granted = deliver(app, pl_mail("Szkolenie", TRAINING), rcpt="pomoc@serwisant.test")
    assert (granted.outcome, granted.ticket) == ("ticket", "SRW-000001")

    excluded = deliver(
        app,
        pl_mail("Klienci", "prosimy o usunięcie klientów bez telefonu, jest ich ok. 300."),
        rcpt="pomoc@serwisant.test",
    )
    assert excluded.as_json()["reason"] == "out_of_scope"
    assert "exclusion=data_operations" in replies(app)[-1][1]


def test_pipeline_cleverbox_hosting_names_who_to_ask(app: App) -> None:
    html = "<html><body><p>Добрый день!</p><p>Наш <b>хостинг</b> не отвечает, сайт лежит.</p></body></html>"
    outcome = deliver(app, message("Сайт", "", html=html, charset="windows-1251"))
    assert (outcome.outcome, outcome.reason) == ("quarantined", "out_of_scope")
    assert "специалисты вашего хостинг-провайдера" in replies(app)[-1][1]
    coupon = deliver(
        app,
        message("Купон CBX7-Q2M9-K4", f"Добрый день!\n\n{ACCOUNTING}\n", sender="ops@gamma.test"),
    )
    assert coupon.outcome == "ticket"


def test_pipeline_crmonline_offers_packages_to_who_has_none(app: App) -> None:
    outcome = deliver(
        app,
        fa_mail("تماس تلفنی", PHONE, sender="sara@parsdata.test"),
        rcpt="support@crmonline.test",
    )
    assert (outcome.outcome, outcome.reason) == ("quarantined", "not_entitled")
    assert "entitlement=phone_support why=no_package" in replies(app)[-1][1]
    ok = deliver(app, fa_mail("تماس تلفنی", PHONE), rcpt="support@crmonline.test")
    assert (ok.outcome, ok.ticket) == ("ticket", "CRM-000001")


def test_pipeline_new_request_only_a_thread_answer_is_kept(app: App) -> None:
    first = deliver(
        app,
        sk_mail("Chyba", "pri zaúčtovaní faktúry systém hlási chybu."),
        rcpt="podpora@cloudempiere.test",
    )
    assert first.ticket == "CEM-000001"
    follow_up = deliver(
        app,
        sk_mail("Re: [CEM-000001] Chyba", "môžete sa prihlásiť do nášho prostredia a pozrieť sa?"),
        rcpt="podpora@cloudempiere.test",
    )
    assert (follow_up.outcome, follow_up.ticket) == ("ticket", "CEM-000001")


def _expiry(purchased: str) -> date:
    """The first day a package bought on this Solar Hijri date is no longer valid."""
    return expiry(Package(hours=1, purchased=purchased))
