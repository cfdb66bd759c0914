"""The knowledge base as an operator and a customer meet it: articles read (or refused) at
start-up, inflected and misspelt questions finding their article, links in the replies, and
GRSoft's basic questions answered with a link instead of the bug-report questionnaire."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from mailbot import kb
from mailbot.config import DeskSettings
from mailbot.config import load as load_config
from mailbot.errors import ConfigError
from mailbot.kb import Article, KnowledgeBase, read_article
from mailbot.rules import Action, Context, History, Thread, load_rules
from mailbot.service import App
from tests.conftest import REPO, SHIPPED_DESKS, run, write_config
from tests.helpers import NOW, message, parsed, replies

SHIPPED_KB = REPO / "config" / "kb"
GOOD_FRONT = (
    'title = "Jak zresetować hasło"\nurl = "https://pomoc.test/haslo"\nlanguage = "pl"\n'
    'keywords = ["reset hasła"]\n'
)


def article_file(folder: Path, front: str, body: str = "Treść.", name: str = "a.md") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"+++\n{front}+++\n\n{body}\n", encoding="utf-8")
    return path


def article(title: str, language: str, keywords: list[str], body: str, slug: str) -> Article:
    url = f"https://kb.test/{language}/{slug}"
    return Article(title, url, language, tuple(keywords), body, Path(f"{slug}.{language}.md"))


def shipped_desk(name: str) -> DeskSettings:
    data = tomllib.loads((SHIPPED_DESKS / f"{name}.toml").read_text(encoding="utf-8"))
    return DeskSettings.model_validate({"name": name, **data})


def slugs(hits: list[kb.Hit]) -> list[str]:
    return [hit.article.path.name.split(".", 1)[0] for hit in hits]


# -- articles at start-up ------------------------------------------------------------------------


def test_an_article_is_read_with_its_front_matter(tmp_path: Path) -> None:
    path = article_file(tmp_path, GOOD_FRONT, "Kliknij „Nie pamiętasz hasła?”.")
    read = read_article(path)
    assert (read.title, read.url, read.language) == (
        "Jak zresetować hasło",
        "https://pomoc.test/haslo",
        "pl",
    )
    assert read.keywords == ("reset hasła",) and read.body == "Kliknij „Nie pamiętasz hasła?”."


@pytest.mark.parametrize(
    ("front", "said"),
    [
        (
            GOOD_FRONT.replace('title = "Jak zresetować hasło"\n', ""),
            "title: required, a non-empty string",
        ),
        (
            GOOD_FRONT.replace("https://pomoc.test/haslo", "pomoc.test/haslo"),
            "url: expected an http:// or https:// address",
        ),
        (GOOD_FRONT + 'author = "Jan"\n', "author: unknown key"),
        (
            GOOD_FRONT.replace('["reset hasła"]', '"reset hasła"'),
            "keywords: expected a list of strings",
        ),
        (GOOD_FRONT.replace('["reset hasła"]', '["  "]'), "keywords: an empty keyword"),
        (GOOD_FRONT.replace('language = "pl"', "language = pl"), "front matter is not valid"),
        (GOOD_FRONT.replace('"pl"', '"polski"'), "language: expected a two-letter code"),
    ],
)
def test_a_bad_article_names_its_file_and_key(tmp_path: Path, front: str, said: str) -> None:
    path = article_file(tmp_path, front)
    with pytest.raises(ConfigError) as caught:
        read_article(path)
    assert str(caught.value).startswith(f"{path}: ") and said in str(caught.value)


def test_an_article_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp1250.md"
    path.write_bytes(("+++\n" + GOOD_FRONT + "+++\nTreść\n").encode("cp1250"))
    with pytest.raises(ConfigError, match=r"cp1250\.md: cannot read: 'utf-8' codec"):
        read_article(path)


def test_an_article_without_front_matter_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("# Reset hasła\n\nKliknij...\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected TOML front matter between"):
        read_article(path)


def test_an_article_in_a_language_the_desk_does_not_answer_in_is_refused(tmp_path: Path) -> None:
    article_file(tmp_path, GOOD_FRONT.replace('"pl"', '"de"'))
    with pytest.raises(ConfigError, match=r"a\.md: language: 'de' is not a language"):
        KnowledgeBase.from_folder(tmp_path, languages=["pl", "en"])


def test_one_url_twice_in_a_language_is_refused(tmp_path: Path) -> None:
    article_file(tmp_path, GOOD_FRONT, name="a.md")
    article_file(tmp_path, GOOD_FRONT, name="b.md")
    with pytest.raises(ConfigError, match=r"b\.md: url: https://pomoc.test/haslo is already"):
        KnowledgeBase.from_folder(tmp_path)


def test_a_desk_without_a_folder_offers_nothing(tmp_path: Path) -> None:
    base = KnowledgeBase.from_folder(tmp_path / "none")
    assert len(base) == 0 and base.search("jak zresetować hasło", "pl") == []


def test_a_bad_article_stops_start_up_naming_file_and_key(tmp_path: Path) -> None:
    kb_dir = tmp_path / "kb"
    bad = article_file(kb_dir / "serwisant", GOOD_FRONT.replace('url = "https', 'url = "ftp'))
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)
    path.write_text(f'kb_dir = "{kb_dir}"\n' + path.read_text())
    mail = tmp_path / "m.eml"
    mail.write_bytes(message("hasło", "jak zresetować hasło?", to="pomoc@serwisant.test"))
    for command in (("check-config",), ("ingest", str(mail))):
        code, _, err = run(path, *command)
        assert code == 78 and f"{bad}: url: expected an http:// or https://" in err


def test_kb_settings_are_validated_with_the_desk(tmp_path: Path) -> None:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "d.toml").write_text(
        'addresses = ["a@d.test"]\nticket_prefix = "DD"\n[kb]\nbasic_questions = true\n'
    )
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks)
    with pytest.raises(ConfigError, match=r"d\.toml: kb\.question_words: .*basic_questions"):
        load_config(path, environ={})
    (desks / "d.toml").write_text(
        'addresses = ["a@d.test"]\nticket_prefix = "DD"\n[kb]\nthreshold = 1.5\n'
    )
    with pytest.raises(ConfigError, match=r"d\.toml: kb\.threshold: .*less than or equal to 1"):
        load_config(path, environ={})


def test_malformed_question_words_stop_start_up() -> None:
    grsoft = shipped_desk("grsoft")
    broken = grsoft.kb.model_copy(update={"question_words": {"ru": ["к*ак"]}})
    with pytest.raises(ConfigError, match=r"desk grsoft: kb\.question_words: keyword 'к\*ак'"):
        load_rules(grsoft.model_copy(update={"kb": broken}))


# -- search ----------------------------------------------------------------------------------------

SMALL = KnowledgeBase(
    [
        article(
            "Печать счетов на мобильном устройстве",
            "ru",
            ["печать счетов", "принтер"],
            "Включите печать счетов в настройках сотрудника.",
            "print",
        ),
        article(
            "Восстановление пароля",
            "ru",
            ["забыл пароль", "сбросить пароль"],
            "Нажмите «Забыли пароль?» на странице входа.",
            "password",
        ),
        article(
            "Импорт клиентов из Excel",
            "ru",
            ["импорт клиентов", "эксель"],
            "Загрузите таблицу в разделе Клиенты.",
            "import",
        ),
        article(
            "Відновлення пароля",
            "uk",
            ["забув пароль", "скинути пароль"],
            "Натисніть «Забули пароль?» на сторінці входу.",
            "password",
        ),
        article(
            "Import klientów z Excela",
            "pl",
            ["import klientów", "plik Excel"],
            "Wczytaj arkusz w zakładce Klienci.",
            "import",
        ),
        article(
            "Reset hasła",
            "pl",
            ["zapomniałem hasła", "zmiana hasła"],
            "Kliknij „Nie pamiętasz hasła?”.",
            "password",
        ),
    ]
)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Где включить печать счета?", "ru", "print"),  # счетов / счета
        ("распечатать счёт не получается, где это настраивается", "ru", "print"),  # ё, verb
        ("забыла пароли, как сбросить", "ru", "password"),
        ("как загрузить клиентов из экселя", "ru", "import"),
        ("Я забув свій пароль, як його скинути?", "uk", "password"),
        ("Jak zaimportować klientów z pliku excel?", "pl", "import"),
        ("zapomniałam hasła do konta", "pl", "password"),
        ("zapomnialem hasla", "pl", "password"),  # no Polish letters typed
        ("как сбросить паорль?", "ru", "password"),  # a typo
    ],
)
def test_inflected_and_misspelt_questions_find_their_article(
    text: str, language: str, expected: str
) -> None:
    hits = SMALL.search(text, language)
    assert hits and slugs(hits)[0] == expected
    assert all(0 < hit.score <= 1 for hit in hits)


def test_nothing_relevant_offers_nothing() -> None:
    assert SMALL.search("Просим выставить акт сверки за октябрь", "ru") == []
    assert SMALL.search("", "ru") == []
    assert SMALL.search("12345 !!!", "ru") == []


def test_only_articles_in_the_mails_language_are_offered() -> None:
    assert SMALL.search("забыл пароль", "en") == []
    assert {hit.article.language for hit in SMALL.search("забув пароль", "uk")} == {"uk"}


def test_a_threshold_and_a_limit() -> None:
    text = "печать счетов, забыл пароль и импорт клиентов из экселя"
    assert len(SMALL.search(text, "ru")) == 3
    assert len(SMALL.search(text, "ru", limit=1)) == 1
    strict = KnowledgeBase(
        [a for index in SMALL.indexes.values() for a in index.articles], threshold=0.99
    )
    assert strict.search(text, "ru") == []


def test_persian_spelt_with_arabic_keyboard_letters_still_matches() -> None:
    base = kb.for_desk(SHIPPED_KB / "crmonline", shipped_desk("crmonline"))
    # ي and ك typed on an Arabic keyboard, no zero-width non-joiner
    hits = base.search("چطور رمز عبور را بازيابي كنم", "fa")
    assert slugs(hits)[:1] == ["password"]


def test_every_shipped_desk_has_a_knowledge_base_in_its_languages() -> None:
    config = load_config(REPO / "config" / "mailbot.toml", environ={})
    bases = kb.load(config)
    for name, desk in config.desks.items():
        assert 8 <= len(bases[name]) <= 30, name
        assert set(bases[name].indexes) <= {desk.language, *desk.languages}


# -- basic questions (GRSoft) ----------------------------------------------------------------------


def grsoft_verdicts(
    subject: str, body: str, articles: bool = True, thread: Thread | None = None
) -> list[Action]:
    grsoft = shipped_desk("grsoft")
    base = kb.for_desk(SHIPPED_KB / "grsoft", grsoft)
    mail = parsed(message(subject, body, sender="olga@sever.test", to="info@grsoft.test"))
    hits = base.search(f"{mail.subject}\n{mail.text}", "ru") if articles else []
    ctx = Context(
        desk=grsoft,
        envelope_from=mail.from_addr,
        now=NOW,
        history=History(thread=thread),
        articles=tuple(hits),
    )
    found = [rule.check(mail, ctx) for rule in load_rules(grsoft)]
    return [v.action for v in found if v is not None]


def test_a_basic_question_with_an_article_is_asked_nothing() -> None:
    assert Action.ask not in grsoft_verdicts("Вопрос", "где включить печать счетов?")


def test_a_fault_report_is_asked_for_what_is_missing_even_when_an_article_matches() -> None:
    text = "Печать счетов не работает, где посмотреть ошибку?"
    assert Action.ask in grsoft_verdicts("Печать", text)


def test_a_question_no_article_answers_gets_the_questionnaire() -> None:
    assert Action.ask in grsoft_verdicts("Вопрос", "где включить печать счетов?", articles=False)


def test_a_question_in_answer_to_the_questionnaire_is_no_new_basic_question() -> None:
    owed = ("contact", "steps_to_reproduce", "impact", "affected_employees")
    thread = Thread("GRS-000001", "waiting_customer", owed, "Печать счетов не работает")
    text = "где включить печать счетов? Я не нашла"
    assert Action.ask in grsoft_verdicts("Re: [GRS-000001] Печать", text, thread=thread)


def test_a_mail_that_asks_nothing_gets_the_questionnaire() -> None:
    assert Action.ask in grsoft_verdicts("Печать", "Включить печать счетов на планшетах.")


# -- end to end: `mailbot ingest` ------------------------------------------------------------------


def ingest_config(tmp_path: Path) -> Path:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)
    path.write_text(f'kb_dir = "{SHIPPED_KB}"\n' + path.read_text())
    return path


def ingest(path: Path, folder: Path, subject: str, body: str, to: str) -> dict[str, object]:
    mail = folder / f"{len(list(folder.glob('*.eml')))}.eml"
    mail.write_bytes(message(subject, body, sender="olga@sever.test", name="Ольга", to=to))
    code, out, err = run(path, "ingest", "--now", "2026-11-20T12:00+02:00", str(mail))
    assert code == 0, err
    line: dict[str, object] = json.loads(out)
    return line


def test_ingest_answers_a_basic_question_with_the_link_and_a_fault_with_the_questionnaire(
    tmp_path: Path,
) -> None:
    path = ingest_config(tmp_path)
    question = ingest(path, tmp_path, "Вопрос", "где включить печать счетов?", "info@grsoft.test")
    assert (question["outcome"], question["missing"]) == ("ticket", [])
    fault = ingest(
        path,
        tmp_path,
        "Печать счетов",
        "Добрый день, при печати счетов на телефоне вылетает ошибка, где посмотреть что не так?",
        "info@grsoft.test",
    )
    assert fault["outcome"] == "ticket" and "steps_to_reproduce" in fault["missing"]  # type: ignore[operator]
    app = App.build(load_config(path, environ={}))
    try:
        queued = replies(app)
    finally:
        app.db.dispose()
    # the desk's duty agent hears of each ticket; the articles are for the customer
    (kind1, ack), (kind2, asked) = [r for r in queued if r[0] != "agent_notice"]
    assert [kind for kind, _ in queued].count("agent_notice") == 2
    link = "https://kb.grsoft.test/ru/napoleon-invoice-printing"
    assert kind1 == "ack" and "Возможно, ответ уже есть в нашей базе знаний:" in ack
    assert (
        f"- Наполеон: как включить печать счетов и накладных на мобильном устройстве\n  {link}"
        in ack
    )
    assert "нам нужны следующие сведения" not in ack
    assert kind2 == "missing_fields" and "Порядок воспроизведения" in asked and link in asked


def test_a_reply_with_no_relevant_article_lists_none(tmp_path: Path) -> None:
    path = ingest_config(tmp_path)
    line = ingest(
        path,
        tmp_path,
        "Korekta",
        "Dzień dobry, proszę o fakturę korygującą do FV/2026/11/123, błędny NIP.",
        "pomoc@serwisant.test",
    )
    assert line["outcome"] == "ticket"
    app = App.build(load_config(path, environ={}))
    try:
        queued = replies(app)
    finally:
        app.db.dispose()
    [(kind, ack)] = [r for r in queued if r[0] != "agent_notice"]
    assert [kind for kind, _ in queued].count("agent_notice") == 1  # the desk's duty agent
    assert kind == "ack" and "bazie wiedzy" not in ack and "https://pomoc" not in ack


def test_a_ukrainian_question_gets_the_ukrainian_article(tmp_path: Path) -> None:
    path = ingest_config(tmp_path)
    mail = tmp_path / "uk.eml"
    body = "Добрий день! Забула пароль, не можу увійти в систему. Як його відновити?"
    mail.write_bytes(
        message("Пароль", body, sender="olena@vector.test", to="support@cleverbox.test")
    )
    code, out, err = run(path, "ingest", "--now", "2026-11-20T12:00+02:00", str(mail))
    assert code == 0 and json.loads(out)["outcome"] == "ticket", out + err
    app = App.build(load_config(path, environ={}))
    try:
        queued = replies(app)
    finally:
        app.db.dispose()
    [(kind, ack)] = [r for r in queued if r[0] != "agent_notice"]
    assert [kind for kind, _ in queued].count("agent_notice") == 1  # the desk's duty agent
    assert kind == "ack" and "Можливо, відповідь уже є в нашій базі знань:" in ack
    assert "- Як відновити пароль для входу в CleverBox:CRM" in ack
    assert "https://help.cleverbox.test/uk/password-reset" in ack
    assert "https://help.cleverbox.test/ru/" not in ack
