"""abusive_language: obscene words and insults in six languages, and the innocent words that
share their letters (учебник, себе, застрахуйте, wyjechać, debilitating, خرید) left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from mailbot.config import Customer, DeskSettings
from mailbot.errors import ConfigError
from mailbot.rules import load_rules
from mailbot.rules._keywords import check_keywords, expand
from mailbot.rules.abusive_language import LANGUAGES, WORDLISTS, AbusiveLanguage, wordlist
from mailbot.service import App
from mailbot.store import Message
from tests.conftest import deliver
from tests.helpers import (
    ack_id,
    build_app,
    check,
    context,
    desk,
    message,
    parsed,
    replies,
)


def abusive_desk(**settings: object) -> DeskSettings:
    return desk(
        rules=["abusive_language"],
        rule={"abusive_language": settings} if settings else {},
        customers=[Customer(name="ТОВ Вектор", contacts=["olena@vector.test"])],
    )


def refused(subject: str, body: str, **settings: object) -> bool:
    the_desk = abusive_desk(**settings)
    verdict = check(the_desk, parsed(message(subject, body)))
    if verdict is None:
        return False
    assert verdict.reason == "abusive_language" and dict(verdict.values) == {}
    return True


# -- what is refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # Russian: roots behind prefixes, ё and е alike
        "Вы там совсем охуели? Третий день не работает склад!",
        "Когда уже починят этот пиздец с отчётами?",
        "Что за хуйня с накладными после обновления",
        "Опять всё наебнулось, ничего не сохраняется.",
        "Отъебитесь со своими ссылками на FAQ, мне нужен человек.",
        "Ёбаный склад опять не открывается",
        "Заебали уже со своими обновлениями",
        "Спиздили у нас базу или что?",
        "Ну и уёбищный интерфейс",
        "Вы идиоты? Я же писала вчера!",
        "Дебилы, верните как было.",
        "Вы там совсем тупые, читать не умеете?",
        # Ukrainian
        "Що за хуйня з вашою CRM?",
        "Заїбали вже з оновленнями, нічого не працює",
        "Йобаний звіт знову не відкривається",
        "Ідіоти, я вже тричі писала!",
        "Ви тупі, чи що?",
        # Polish
        "Kurwa, znowu nie działa wysyłka SMS",
        "Co za chujowy system",
        "Aplikacja się wypierdala przy każdym zapisie",
        "Jesteście idiotami? Trzeci raz piszę to samo.",
        "Zajebiście, znowu błąd 500.",
        "Spierdolił się kalendarz",
        # Slovak
        "Do piče, zase to nejde",
        "Ten váš systém je na hovno",
        "Vy ste fakt debili?",
        "Zasraný ERP zase spadol",
        "Kokoti, opravte to konečne!",
        # Persian, with the ZWNJ, with a space, and typed on an Arabic keyboard
        "شما احمق هستید؟ دو روز است جواب نمی‌دهید",
        "سیستم کثافت شما باز کار نمی‌کند",
        "بی‌شعورها جواب بدید",
        "بی شعور ها",
        "بيشعور",
        # English
        "What the fuck is wrong with your system?",
        "This is bullshit, I want a refund.",
        "You are all morons.",
        "The fucking export broke again",
    ],
)
def test_obscene_words_and_insults_are_refused(text: str) -> None:
    assert refused("Проблема", f"Добрый день.\n\n{text}\n\nОлена")


def test_the_subject_counts_too() -> None:
    assert refused("Опять этот пиздец со складом", "Добрый день. Склад не открывается.")


def test_an_html_only_mail_in_koi8_is_read_like_any_other() -> None:
    raw = message(
        "Склад",
        "",
        html="<html><body><p>Что за <b>хуйня</b> со складом?</p></body></html>",
        charset="koi8-r",
    )
    the_desk = abusive_desk()
    verdict = check(the_desk, parsed(raw))
    assert verdict is not None and verdict.reason == "abusive_language"


def test_customers_mix_languages_every_list_is_searched() -> None:
    """A Russian desk, a Polish word: refused all the same."""
    assert refused("Склад", "Склад не открывается, kurwa, уже третий день.")


def test_the_words_are_never_quoted_back() -> None:
    the_desk = abusive_desk()
    verdict = check(the_desk, parsed(message("Склад", "Что за хуйня со складом?")))
    assert verdict is not None and dict(verdict.values) == {}
    assert "хуй" not in verdict.detail and "ru list" in verdict.detail


def test_an_insult_in_a_follow_up_is_refused_too() -> None:
    """CleverBox refuses messages with obscene language: inside a ticket as well."""
    the_desk = abusive_desk()
    mail = parsed(message("Re: [CBX-000001] Склад", "Вы там охуели? Неделю ждём."))
    verdict = check(the_desk, mail, context(the_desk, mail, thread="CBX-000001"))
    assert verdict is not None and verdict.reason == "abusive_language"


# -- what is left alone ------------------------------------------------------------------------

INNOCENT = {
    "ru": (
        "Требуется учебный учебник колебание колебаться оскорблять небо хлебный рубль требовать "
        "требую потребуется ребята ребенок гребень погребение употреблять ебэ себе тебе "
        "себестоимость застрахуйте страхуем перестрахуйтесь психуй ухудшение похудеть хулиган "
        "художник Хуан шлюз дебет дебиторская мандат бляха сукно мудрый сравнение страница "
        "вебинар веб-интерфейс подъезд съезд отъезд объезд объявление изъян лохматый "
        "дегенеративное кретинизм Курвуазье Сучкова Хернинг сторублевый"
    ),
    "uk": (
        "тебе себе небо потребує страхування виїзд з'їсти заїзд найобачніший "
        "найобнадійливіший ебеновий Еберт Ебнер Довбор обліковий вимкнути хуртовина"
    ),
    "pl": (
        "wyjechać dojechać objechać zjechał przejechać duplikat dupleks kurtyna kurier Jebsen "
        "Palantir debet suknia sukienka sukces szkoleniu sieci pierwszy chuderlawy"
    ),
    "sk": "sranda posrednik kokos hovorca hovoriť Hovnanian pica pice Jebel",
    "fa": "خرید آخر گاوصندوق هیچ کس نفهمیدم کسب و کار کیفیت گه‌گاه شماره را عوضی گرفتم خرداد",
    "en": (
        "debilitating Scunthorpe assets assume class passive shift Dickens cocktail cockpit "
        "Morongo Moroney Jebediah therapist analysis grape Essex shiitake assistance Jebsen"
    ),
}


@pytest.mark.parametrize("language", sorted(INNOCENT))
def test_innocent_words_sharing_letters_with_mat_pass(language: str) -> None:
    the_desk = abusive_desk()
    for word in INNOCENT[language].split():
        mail = parsed(message("Вопрос", f"Добрый день. {word}"))
        assert check(the_desk, mail) is None, word


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Не проводится накладная",
            "Добрый день!\n\nТребуется срочно провести расходную накладную: пишет «Недостаточно "
            "остатка», хотя на складе 40 штук. Себестоимость тоже не считается. Прошу помочь, "
            "учебный центр ждёт отгрузку.\n\nС уважением,\nОлена Коваль",
        ),
        (
            "Не працює звіт",
            "Доброго дня!\n\nПотрібно, щоб звіт по продажах знову відкривався: після оновлення "
            "видає помилку. Страхування угод теж не зберігається.\n\nДякую,\nОлена",
        ),
        (
            "SMS nie dochodzą",
            "Dzień dobry,\n\nod wczoraj SMS-y nie dochodzą do klientów, kurier też nie dostaje "
            "zleceń. Musimy wyjechać do klienta, prosimy o pilną pomoc.\n\nPozdrawiam,\nJan",
        ),
        (
            "Chyba pri tlači",
            "Dobrý deň,\n\npri tlači faktúr systém hlási chybu, sranda to nie je, stojí nám "
            "expedícia.\n\nĎakujem,\nPeter Horváth",
        ),
        (
            "گزارش فروش",
            "سلام وقت بخیر\n\nبعد از خرید بسته جدید، گزارش فروش آخر ماه باز نمی‌شود. لطفا "
            "بررسی کنید.\n\nبا تشکر\nعلی رضایی",
        ),
        (
            "Export fails",
            "Hello,\n\nthe export of assets to Excel fails with a debilitating timeout; we "
            "assume it is the new version. Please advise.\n\nBest regards,\nJohn",
        ),
    ],
)
def test_ordinary_requests_in_every_language_pass(subject: str, body: str) -> None:
    assert not refused(subject, body)


def test_quoted_history_and_signatures_are_not_read() -> None:
    """The customer may quote a third party's rude mail; a signature is not said to us."""
    body = (
        "Добрый день!\n\nПересылаю, что нам пишет клиент, помогите разобраться со складом.\n\n"
        "> Вы там совсем охуели, где мой заказ?!\n> Дебилы.\n\n"
        "-- \nОлена Коваль\n«Fuck it, ship it» — девиз нашей команды разработки\n"
    )
    assert not refused("Склад", body)


def test_bottom_quoted_history_after_the_quote_header_is_not_read() -> None:
    body = (
        "Спасибо, теперь работает.\n\n"
        "20.11.2026, 10:00, Клиент пишет:\n"
        "Вы идиоты, ничего не работает!\n"
    )
    assert not refused("Re: склад", body)


# -- settings and the lists themselves ---------------------------------------------------------


def test_languages_narrow_the_lists_and_extra_words_widen_them() -> None:
    assert not refused("Склад", "Kurwa, nie działa.", languages=["ru", "uk"])
    assert refused("Склад", "Склад снова глючит, бракоделы!", extra_words={"ru": ["бракодел*"]})
    assert refused(
        "Склад", "Склад снова глючит, халтурщики!", extra_words={"ru": ["{халтурщик,бракодел}*"]}
    )


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"languages": ["de"]}, "no word list for 'de'"),
        ({"extra_words": {"ru": ["*"]}}, "`*` goes at the end"),
        ({"extra_words": {"ru": ["{а,б"]}}, "unbalanced braces"),
        ({"words": {"ru": ["x"]}}, "unknown key"),
    ],
)
def test_bad_settings_stop_start_up(settings: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=r"rule\.abusive_language") as caught:
        load_rules(desk(rules=["abusive_language"], rule={"abusive_language": settings}))
    assert complaint in str(caught.value)


def test_every_shipped_list_exists_and_every_line_is_a_valid_keyword() -> None:
    # the languages are the files: these six are what CleverBox's customers write
    assert set(LANGUAGES) >= {"ru", "uk", "pl", "sk", "fa", "en"}
    for language in LANGUAGES:
        assert len(wordlist(language)) >= 20, language
        lines = (WORDLISTS / f"{language}.txt").read_text(encoding="utf-8").splitlines()
        for line in lines:
            entry = line.split("#", 1)[0].strip()
            if entry:
                check_keywords({language: [entry]})
                assert all("{" not in w for w in expand(entry)), entry


def test_brace_alternatives_expand_with_an_empty_choice() -> None:
    assert expand("{,за,на}еб*") == ["еб*", "заеб*", "наеб*"]
    assert expand("как {вести,организовать} учет{,а}") == [
        "как вести учет",
        "как вести учета",
        "как организовать учет",
        "как организовать учета",
    ]


@pytest.mark.timeout(60)  # a hang guard; benchmarks/rules.py has the per-mail cost
def test_a_long_mail_is_checked() -> None:
    """Hundreds of stems are merged into one pattern: a 60 KB clean mail passes, ten times."""
    rule = AbusiveLanguage(AbusiveLanguage.Settings())
    text = "Добрый день! Склад не открывается, при проведении накладной ошибка. " * 900
    mail = parsed(message("Склад", text))
    the_desk = abusive_desk()
    ctx = context(the_desk, mail)
    for _ in range(10):
        assert rule.check(mail, ctx) is None


# -- through the pipeline ----------------------------------------------------------------------

CLEVERBOX = """
name = "cleverbox"
title = "CleverBox:CRM"
addresses = ["support@cleverbox.test"]
language = "ru"
timezone = "Europe/Kyiv"
ticket_prefix = "CBX"
rules = ["loops", "duplicate", "unknown_customer", "abusive_language"]

[[customers]]
name = "ТОВ Вектор"
contacts = ["olena@vector.test"]
"""


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    application = build_app(tmp_path, db_url, {"cleverbox": CLEVERBOX})
    yield application
    application.db.dispose()


def test_pipeline_abuse_is_quarantined_kept_and_answered_without_the_words(app: App) -> None:
    raw = message("Склад", "Добрый день. Что за хуйня со складом третий день?")
    outcome = deliver(app, raw)
    assert (outcome.outcome, outcome.reason, outcome.ticket) == (
        "quarantined",
        "abusive_language",
        None,
    )
    assert app.spool.read(outcome.spool_id) == raw
    kind, body = replies(app)[-1]
    assert kind == "abusive_language" and "хуй" not in body


def test_pipeline_an_abusive_follow_up_stays_out_of_the_ticket(app: App) -> None:
    first = deliver(app, message("Склад", "Добрый день. Склад не открывается."))
    ack = ack_id(app, first.ticket or "")
    rude = message(
        f"Re: [{first.ticket}] Склад",
        "Вы там совсем охуели? Неделю ждём ответа.",
        In_Reply_To=ack,
        References=ack,
    )
    outcome = deliver(app, rude)
    assert (outcome.outcome, outcome.reason) == ("quarantined", "abusive_language")
    with Session(app.db.engine) as s:
        inbound = s.exec(select(Message).where(col(Message.direction) == "in")).all()
    assert len(inbound) == 1
    polite = message(
        f"Re: [{first.ticket}] Склад",
        "Извините за тон. Склад так и не открывается, ждём.",
        In_Reply_To=ack,
        References=ack,
    )
    assert deliver(app, polite).ticket == first.ticket
