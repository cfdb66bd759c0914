"""Reply templates: every event in every language renders and says exactly what is wrong.

Each test renders the real files under templates/ through the Renderer (StrictUndefined), with
the values the pipeline gives (`sample_values` plus each event's own), the way a customer of
each desk would receive them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from jinja2 import meta

from mailbot.config import DeskSettings
from mailbot.replies import Renderer, sample_values

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
LANGUAGES = ("en", "ru", "uk", "pl", "sk", "fa")
PROMISING_LANGUAGES = (*LANGUAGES, "cs")
"""Czech (cloudempiere) is rendered case by case in tests/test_grsoft_cloudempiere_round2.py;
its references and promises are checked here with the others."""
REFUSALS = (
    "oversized",
    "distributive_attachment",
    "duplicate",
    "unknown_customer",
    "not_designated_contact",
    "subscription_suspended",
    "abusive_language",
    "monthly_quota",
    "out_of_scope",
    "not_entitled",
)
EVENTS = ("ack", "missing_fields", *REFUSALS)
WHYS = (
    "not_in_plan",
    "period_over",
    "already_used",
    "no_package",
    "package_expired",
    "no_balance",
    "unknown_customer",
)
FIELDS = (
    "project",
    "contact",
    "description",
    "modules",
    "steps_to_reproduce",
    "impact",
    "affected_employees",
    "mobile_database",
    "exchange_archive_link",
)
DETAIL = "ADMIN-ONLY detail 7f3a: plan 'standard' since 2029-11-02 is past 30 days"
NBSP = "\u00a0"


def _desk(
    name: str, title: str, address: str, language: str, zone: str, prefix: str
) -> DeskSettings:
    return DeskSettings(
        name=name,
        title=title,
        addresses=[address],
        language=language,
        timezone=zone,
        ticket_prefix=prefix,
    )


# The desk whose customers write in each language (English: a GRSoft customer abroad).
DESKS = {
    "en": _desk("grsoft", "GRSoft", "info@grsoft.test", "ru", "Europe/Moscow", "GRS"),
    "ru": _desk("grsoft", "GRSoft", "info@grsoft.test", "ru", "Europe/Moscow", "GRS"),
    "uk": _desk("cleverbox", "CleverBox:CRM", "support@cleverbox.test", "ru", "Europe/Kyiv", "CBX"),
    "pl": _desk(
        "serwisant", "Serwisant Online", "pomoc@serwisant.test", "pl", "Europe/Warsaw", "SRW"
    ),
    "sk": _desk(
        "cloudempiere",
        "cloudempiere",
        "podpora@cloudempiere.test",
        "sk",
        "Europe/Bratislava",
        "CEM",
    ),
    "fa": _desk("crmonline", "crmonline", "support@crmonline.test", "fa", "Asia/Tehran", "CRM"),
}
DESKS["cs"] = DESKS["sk"]
PEOPLE = {
    "en": ("John Miller", "Northwind Traders Ltd", "Sync fails on two tablets"),
    "ru": ("Ирина Соколова", "ООО «Вектор-Юг»", "Не выгружаются заказы из Наполеона"),
    "uk": ("Олена Коваль", "ТОВ «Світанок»", "Не відкривається модуль складу"),
    "pl": ("Anna Nowak", "Serwis RTV Nowak s.c.", "Nie wysyłają się SMS-y do klientów"),
    "sk": ("Peter Horváth", "Horváth a syn, s.r.o.", "Chyba pri zaúčtovaní faktúry"),
    "cs": ("Jana Nováková", "Novák a spol., s.r.o.", "Chyba při zaúčtování faktury"),
    "fa": ("مریم احمدی", "شرکت پارس‌تجارت", "خطا در ورود به پرتال"),
}
EXCLUSION_TITLE = {
    "en": "Hosting and third-party software",
    "ru": "Хостинг и стороннее программное обеспечение",
    "uk": "Хостинг і стороннє програмне забезпечення",
    "pl": "Komputer, sieć lub hosting usługobiorcy",
    "sk": "Manipulácia s používateľskými dátami",
    "fa": "تحلیل و طراحی CRM",
}
REFER_TO = {
    "en": "your hosting provider",
    "ru": "Ваш хостинг-провайдер",
    "uk": "Ваш хостинг-провайдер",
    "pl": "administrator Państwa serwera",
    "sk": "správca Vášho prostredia",
    "fa": "بخش فروش",
}
ENTITLEMENT_TITLE = {
    "en": "Free video training",
    "ru": "Бесплатное обучение",
    "uk": "Безкоштовне навчання",
    "pl": "Bezpłatne szkolenie wideo",
    "sk": "Bezplatné školenie",
    "fa": "آموزش تلفنی",
}
# Each language's label of every field a request may lack (missing_fields).
LABELS = {
    "en": {
        "project": "Project name or code",
        "contact": "Your name and contact details",
        "description": "Description of the problem",
        "modules": "Applications or modules affected",
        "steps_to_reproduce": "Steps to reproduce",
        "impact": "Impact on work",
        "affected_employees": "Number of employees affected",
        "mobile_database": "Database from the mobile device",
        "exchange_archive_link": "Link to the exchange folder archive",
    },
    "ru": {
        "project": "Название или код проекта",
        "contact": "Имя и контактные данные",
        "description": "Описание проблемы",
        "modules": "Приложения или модули",
        "steps_to_reproduce": "Порядок воспроизведения",
        "impact": "Влияние на работу",
        "affected_employees": "Количество сотрудников",
        "mobile_database": "База данных с мобильного устройства",
        "exchange_archive_link": "Ссылка на архив каталога обмена",
    },
    "uk": {
        "project": "Назва або код проєкту",
        "contact": "Ім’я та контактні дані",
        "description": "Опис проблеми",
        "modules": "Застосунки або модулі",
        "steps_to_reproduce": "Порядок відтворення",
        "impact": "Вплив на роботу",
        "affected_employees": "Кількість працівників",
        "mobile_database": "База даних з мобільного пристрою",
        "exchange_archive_link": "Посилання на архів каталогу обміну",
    },
    "pl": {
        "project": "Nazwa lub kod projektu",
        "contact": "Imię, nazwisko i dane kontaktowe",
        "description": "Opis problemu",
        "modules": "Aplikacje lub moduły",
        "steps_to_reproduce": "Kroki do odtworzenia",
        "impact": "Wpływ na pracę",
        "affected_employees": "Liczba pracowników",
        "mobile_database": "Baza danych z urządzenia mobilnego",
        "exchange_archive_link": "Link do archiwum katalogu wymiany",
    },
    "sk": {
        "project": "Názov alebo kód projektu",
        "contact": "Meno a kontaktné údaje",
        "description": "Popis problému",
        "modules": "Aplikácie alebo moduly",
        "steps_to_reproduce": "Postup na zopakovanie",
        "impact": "Vplyv na prácu",
        "affected_employees": "Počet dotknutých zamestnancov",
        "mobile_database": "Databáza z mobilného zariadenia",
        "exchange_archive_link": "Odkaz na archív adresára výmeny",
    },
    "fa": {
        "project": "نام یا کد پروژه",
        "contact": "نام و اطلاعات تماس",
        "description": "شرح مشکل",
        "modules": "برنامه‌ها یا ماژول‌های درگیر",
        "steps_to_reproduce": "مراحل بازتولید",
        "impact": "تأثیر بر کار",
        "affected_employees": "تعداد کارکنان درگیر",
        "mobile_database": "پایگاه داده دستگاه همراه",
        "exchange_archive_link": "لینک آرشیو پوشه تبادل",
    },
}
# The offer to buy a support package that the package reasons of not_entitled must carry.
PACKAGE_OFFER = {
    "en": "please buy a support package",
    "ru": "приобретите пакет поддержки",
    "uk": "придбайте пакет підтримки",
    "pl": "prosimy wykupić pakiet wsparcia",
    "sk": "zakúpte si, prosím, balík podpory",
    "fa": "یک بسته پشتیبانی خریداری فرمایید",
}
# How each language writes 30 MiB (the macro's decimal mark and unit).
THIRTY_MB = {
    "en": f"30.0{NBSP}MB",
    "ru": f"30,0{NBSP}МБ",
    "uk": f"30,0{NBSP}МБ",
    "pl": f"30,0{NBSP}MB",
    "sk": f"30,0{NBSP}MB",
    "fa": f"30.0{NBSP}مگابایت",
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(TEMPLATES)


def values(language: str, event: str, **extra: Any) -> dict[str, Any]:
    """What the pipeline hands the template of `event` for a customer writing in `language`."""
    desk = DESKS[language]
    name, customer, subject = PEOPLE[language]
    prefix = desk.ticket_prefix
    base = sample_values(desk) | {
        "customer_name": name,
        "customer": customer,
        "subject": subject,
        "deadline": f"03.03.2030 12:00 ({desk.timezone.rsplit('/', 1)[-1]})",
        "received": f"02.03.2030 12:00 ({desk.timezone.rsplit('/', 1)[-1]})",
        "detail": DETAIL,
    }
    if event in REFUSALS:
        base |= {"ticket_number": None, "deadline": None, "reason": event}
    own: dict[str, dict[str, Any]] = {
        "missing_fields": {"missing": ["project", "steps_to_reproduce", "mobile_database"]},
        "oversized": {
            "file_name": "фото склада.zip",
            "size_bytes": 30 * 1024 * 1024,
            "limit_bytes": 10 * 1024 * 1024,
        },
        "distributive_attachment": {
            "file_name": "napoleon_2.4.zip",
            "inner_name": "NapoleonSetup.exe",
            "kind": "Windows executable",
        },
        "duplicate": {"ticket_number": f"{prefix}-000041", "first_ticket": f"{prefix}-000041"},
        "not_designated_contact": {"designated_contact": "it-admin@vector-yug.example"},
        "subscription_suspended": {"status": "ended", "until": "2030-02-28"},
        "monthly_quota": {"limit": 50, "count": 50},
        "out_of_scope": {
            "exclusion": "hosting",
            "exclusion_title": EXCLUSION_TITLE,
            "refer_to": REFER_TO,
        },
        "not_entitled": {
            "entitlement": "training",
            "entitlement_title": ENTITLEMENT_TITLE,
            "why": "no_balance",
        },
    }
    return base | own.get(event, {}) | extra


# Every event plus the variants that take other branches of a template.
CASES: list[tuple[str, dict[str, Any]]] = [
    *((event, {}) for event in EVENTS),
    ("ack", {"customer_name": "", "customer": None}),
    ("missing_fields", {"missing": list(FIELDS)}),
    ("missing_fields", {"missing": ["contact", "a_field_no_template_knows"]}),
    ("oversized", {"file_name": None, "size_bytes": 27_000_000, "limit_bytes": 26_214_400}),
    ("oversized", {"size_bytes": 1536, "limit_bytes": 1024}),
    ("distributive_attachment", {"inner_name": None, "kind": "Android package"}),
    ("distributive_attachment", {"kind": "Plan 9 a.out"}),
    ("distributive_attachment", {"kind": "encrypted archive"}),
    ("distributive_attachment", {"kind": "archive that cannot be inspected", "inner_name": None}),
    ("distributive_attachment", {"kind": "archive too large to inspect (possible zip bomb)"}),
    ("not_designated_contact", {"customer": None, "customer_name": ""}),
    ("subscription_suspended", {"status": "ended", "until": None}),
    ("subscription_suspended", {"status": "suspended", "until": "2030-12-31"}),
    ("subscription_suspended", {"status": "suspended", "until": None, "customer": None}),
    ("monthly_quota", {"customer": None, "limit": 120, "count": 131}),
    ("out_of_scope", {"refer_to": None}),
    ("out_of_scope", {"exclusion_title": {"ru": "Консалтинг по учёту"}, "refer_to": {}}),
    ("out_of_scope", {"exclusion_title": {}}),
    *(("not_entitled", {"why": why}) for why in WHYS),
    ("not_entitled", {"why": "some_new_reason", "entitlement_title": {}}),
]


def render(renderer: Renderer, language: str, event: str, **extra: Any) -> str:
    return renderer.render_text(language, event, values(language, event, **extra))


def flat(text: str) -> str:
    """The text with line breaks (and no-break spaces) as plain spaces: names may wrap."""
    return " ".join(text.split())


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_event_has_a_template_in_every_language(language: str) -> None:
    missing = [e for e in EVENTS if not (TEMPLATES / language / f"{e}.txt.j2").is_file()]
    assert missing == []
    assert (TEMPLATES / "_macros.j2").is_file()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("event", "extra"), CASES)
def test_every_template_renders_a_tidy_signed_reply(
    renderer: Renderer, language: str, event: str, extra: dict[str, Any]
) -> None:
    vals = values(language, event, **extra)
    text = renderer.render_text(language, event, vals)
    desk_name = DESKS[language].display_name
    lines = text.split("\n")
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text, "a block tag left an empty paragraph"
    if language in ("sk", "cs") and lines[0].startswith("Referen"):
        # Slovak and Czech go on in lower case after "Dobrý deň,": the reference stands
        # above the greeting, not between the greeting and its sentence
        blank = lines.index("")
        assert "Q-" in " ".join(lines[:blank])
        lines = lines[blank + 1 :]
    assert lines[-3:] == ["-- ", lines[-2], ""] and desk_name in lines[-2], "signed by the desk"
    if vals["customer_name"]:
        assert vals["customer_name"] in lines[0], "the greeting names the customer"
    else:
        assert "  " not in lines[0] and " ," not in lines[0] and not lines[0].startswith(" ")
    assert DETAIL not in text and "ADMIN-ONLY" not in text
    assert "None" not in text, "a None value leaked into the reply"
    for line in lines:
        assert len(line) <= 78, f"line too long for a mail client: {line!r}"
        assert line == "-- " or line == line.rstrip(), f"trailing blank: {line!r}"


def test_no_template_uses_the_admins_detail(renderer: Renderer) -> None:
    for path in sorted(TEMPLATES.rglob("*.j2")):
        source = path.read_text(encoding="utf-8")
        names = meta.find_undeclared_variables(renderer.env.parse(source))
        assert "detail" not in names, path


@pytest.mark.parametrize("language", LANGUAGES)
def test_ack_gives_the_ticket_number_and_the_deadline(renderer: Renderer, language: str) -> None:
    vals = values(language, "ack")
    text = flat(renderer.render_text(language, "ack", vals))
    assert vals["ticket_number"] in text and vals["deadline"] in text and vals["subject"] in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_oversized_names_the_file_and_both_sizes(renderer: Renderer, language: str) -> None:
    text = render(renderer, language, "oversized")
    assert "фото склада.zip" in flat(text)
    assert THIRTY_MB[language] in text
    assert THIRTY_MB[language].replace("30", "10") in text
    whole = render(renderer, language, "oversized", file_name=None, limit_bytes=25 * 1024**2)
    assert ".zip" not in whole
    assert THIRTY_MB[language] in whole and THIRTY_MB[language].replace("30", "25") in whole


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0.0 KB"),
        (1536, "1.5 KB"),
        (1048575, "1024.0 KB"),
        (1048576, "1.0 MB"),
        (10_000_000, "9.5 MB"),
        (26_214_400, "25.0 MB"),
    ],
)
def test_size_macro_writes_kb_or_mb_with_one_decimal(
    renderer: Renderer, size: int, text: str
) -> None:
    template = renderer.env.from_string('{% import "_macros.j2" as m %}{{ m.size(n) }}')
    assert template.render(n=size) == text.replace(" ", NBSP)
    polish = renderer.env.from_string('{% import "_macros.j2" as m %}{{ m.size(n, "pl") }}')
    assert polish.render(n=size) == text.replace(".", ",").replace(" ", NBSP)


@pytest.mark.parametrize("language", LANGUAGES)
def test_distributive_attachment_names_the_file_and_the_kind(
    renderer: Renderer, language: str
) -> None:
    text = render(renderer, language, "distributive_attachment")
    assert "napoleon_2.4.zip" in text and "NapoleonSetup.exe" in text
    if language != "en":
        assert "Windows executable" not in text, "the kind is translated"
    unknown = render(renderer, language, "distributive_attachment", kind="Plan 9 a.out")
    assert "Plan 9 a.out" in flat(unknown), "an unknown kind is shown as it is"
    locked = render(renderer, language, "distributive_attachment", kind="encrypted archive")
    assert "napoleon_2.4.zip" in locked and "ZIP" in locked and "7z" in locked
    assert "encrypted archive" not in locked


@pytest.mark.parametrize("language", LANGUAGES)
def test_duplicate_names_the_first_ticket(renderer: Renderer, language: str) -> None:
    first = f"{DESKS[language].ticket_prefix}-000041"
    assert first in render(renderer, language, "duplicate")


@pytest.mark.parametrize("language", LANGUAGES)
def test_not_designated_contact_names_the_contact(renderer: Renderer, language: str) -> None:
    text = render(renderer, language, "not_designated_contact")
    assert "it-admin@vector-yug.example" in text and PEOPLE[language][1] in flat(text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_subscription_ended_gives_the_date(renderer: Renderer, language: str) -> None:
    text = render(renderer, language, "subscription_suspended")
    assert ("2030-02-28" if language in ("en", "fa") else "28.02.2030") in text
    suspended = render(renderer, language, "subscription_suspended", status="suspended")
    assert suspended != text


@pytest.mark.parametrize("language", LANGUAGES)
def test_monthly_quota_gives_the_limit_and_the_count(renderer: Renderer, language: str) -> None:
    text = render(renderer, language, "monthly_quota", limit=120, count=131)
    assert "120" in text and "131" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_out_of_scope_names_the_exclusion_in_the_reply_language(
    renderer: Renderer, language: str
) -> None:
    text = flat(render(renderer, language, "out_of_scope"))
    assert EXCLUSION_TITLE[language] in text and REFER_TO[language] in text
    for other, title in EXCLUSION_TITLE.items():
        if other != language:
            assert title not in text
    english_only = render(
        renderer, language, "out_of_scope", exclusion_title={"en": "Data operations"}
    )
    assert "Data operations" in flat(english_only)
    russian_only = render(
        renderer, language, "out_of_scope", exclusion_title={"ru": "Консалтинг"}, refer_to=None
    )
    assert "Консалтинг" in russian_only and REFER_TO[language] not in flat(russian_only)
    untitled = render(
        renderer, language, "out_of_scope", exclusion="client_panel", exclusion_title={}
    )
    assert "client_panel" in untitled, "with no title at all, the code is named"


@pytest.mark.parametrize("language", LANGUAGES)
def test_not_entitled_explains_each_reason(renderer: Renderer, language: str) -> None:
    texts = {why: render(renderer, language, "not_entitled", why=why) for why in WHYS}
    assert len(set(texts.values())) == len(WHYS), "every reason reads differently"
    for why, text in texts.items():
        assert ENTITLEMENT_TITLE[language] in flat(text)
        offers = PACKAGE_OFFER[language] in flat(text)
        assert offers == (why in ("no_package", "package_expired", "no_balance")), why


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("field", FIELDS)
def test_missing_fields_lists_exactly_what_is_missing(
    renderer: Renderer, language: str, field: str
) -> None:
    labels = LABELS[language]
    text = render(renderer, language, "missing_fields", missing=[field])
    assert f"- {labels[field]}\n" in text, "listed with its instruction"
    assert f"\n{labels[field]}:" in text, "and as a line of the form to fill in"
    for other, label in labels.items():
        if other != field:
            assert label not in text, f"{other} is not missing but is asked for"
    assert f"{DESKS[language].ticket_prefix}-000001" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_fields_lists_them_all_in_order(renderer: Renderer, language: str) -> None:
    text = render(renderer, language, "missing_fields", missing=list(FIELDS))
    labels = [LABELS[language][f] for f in FIELDS]
    listed = [text.index(f"- {label}\n") for label in labels]
    form = [text.index(f"\n{label}:") for label in labels]
    assert listed == sorted(listed) and form == sorted(form) and listed[-1] < form[0]


def _reply(renderer: Renderer, language: str, event: str) -> EmailMessage:
    vals = values(language, event)
    return renderer.reply(
        desk=DESKS[language],
        language=language,
        event=event,
        number=vals["ticket_number"],
        to="customer@example.com",
        subject=vals["subject"],
        in_reply_to="<original@example.com>",
        references=[],
        message_id="<reply@mailbot.test>",
        values=vals,
        now=datetime(2030, 3, 2, 9, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize("event", EVENTS)
def test_persian_replies_carry_a_right_to_left_html_part(renderer: Renderer, event: str) -> None:
    msg = _reply(renderer, "fa", event)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None and html is not plain
    markup = str(html.get_content())
    assert 'dir="rtl"' in markup and 'lang="fa"' in markup
    first_words = str(plain.get_content()).split("\n\n")[1].split()[:3]
    assert " ".join(first_words) in markup


def test_left_to_right_replies_stay_plain_text(renderer: Renderer) -> None:
    msg = _reply(renderer, "ru", "duplicate")
    assert not msg.is_multipart() and msg.get_content_type() == "text/plain"


# The label before the reference a refusal opens with, per language.
REFERENCE_LABEL = {
    "en": "Reference:",
    "ru": "Номер для справок:",
    "uk": "Номер для довідок:",
    "pl": "Numer referencyjny:",
    "sk": "Referenčné číslo:",
    "cs": "Referenční číslo:",
    "fa": "شماره پیگیری:",
}
# The words that promise the resolution (CleverBox: processing) in an acknowledgement.
RESOLVES = {
    "en": "resolve your request",
    "ru": "обработаем обращение",
    "uk": "опрацюємо звернення",
    "pl": "rozwiążemy",
    "sk": "vyriešime",
    "cs": "vyřešíme",
    "fa": "رسیدگی",
}


@pytest.mark.parametrize("language", PROMISING_LANGUAGES)
@pytest.mark.parametrize("event", REFUSALS)
def test_every_refusal_opens_with_the_reference_to_quote(
    renderer: Renderer, language: str, event: str
) -> None:
    text = render(renderer, language, event, reference="Q-7F3A9C21")
    head = flat("\n".join(text.split("\n")[:5]))
    assert f"{REFERENCE_LABEL[language]} Q-7F3A9C21" in head, head
    assert text.count("Q-7F3A9C21") == 1
    assert "Q-" not in render(renderer, language, event, reference=None)


@pytest.mark.parametrize("language", PROMISING_LANGUAGES)
@pytest.mark.parametrize("event", ["ack", "reopened", "reopened_as_new"])
def test_acknowledgements_promise_the_first_answer_and_the_resolution(
    renderer: Renderer, language: str, event: str
) -> None:
    first, later = "03.03.2030 12:00 (X)", "04.03.2030 12:00 (X)"
    earlier = {"earlier_ticket": "GRS-000040", "earlier_state": "solved"}

    def said(deadline: str | None, resolution: str | None) -> str:
        vals = earlier | {"deadline": deadline, "resolution_deadline": resolution}
        return flat(render(renderer, language, event, **vals))

    both = said(first, later)
    assert first in both and later in both and RESOLVES[language] in both
    same = said(first, first)
    assert same.count(first) == 1 and RESOLVES[language] in same
    only = said(first, None)
    assert first in only and RESOLVES[language] not in only
    late = said(None, later)
    assert later in late and RESOLVES[language] in late
    neither = said(None, None)
    assert "(X)" not in neither and RESOLVES[language] not in neither
