"""Issue 11, GRSoft and cloudempiere: the individual SLA for all users, Czech, template checks.

Against the shipped desk files, through `mailbot ingest --json` and the reply text (helpers
of tests/test_desks.py), and `mailbot check-config` on broken copies of the desk files.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailbot.language import detect
from mailbot.pipeline import DETECTABLE
from mailbot.replies import Renderer
from tests import test_templates as template_cases
from tests.conftest import REPO, copy_desks, run, write_config
from tests.test_desks import (
    CLOUDEMPIERE,
    GRSOFT,
    IVANOV,
    PETROV,
    Desks,
    check_reply,
    desks,
    modern,
    outcome,
    text_of,
)

__all__ = ["desks"]  # the fixture, used by name

TORGSET_SPECIALIST = ("Смирнова Ольга", "smirnova@torgset.test")
TORGSET_OPERATOR = ("Кузнецов Дмитрий", "kuznetsov@torgset.test")
TORGSET_NEWCOMER = ("Белова Анна", "a.belova@torgset.test")

_ACETEAM_REPORT = (
    "Добрый день!\n\n"
    "Код проекта AT-{code}. С сегодняшнего утра в AceTeam модуль «Маршруты» не открывается\n"
    "на планшетах торговых представителей: приложение показывает пустой экран и закрывается.\n"
    "Порядок действий: 1. Открыть AceTeam. 2. Перейти в «Маршруты». 3. Приложение закрывается.\n"
    "Из-за этого представители не могут принимать заказы у торговых точек.\n"
    "Касается 14 сотрудников.\n\n"
    "С уважением,\n{name}\n+7 495 123-45-67\n"
)


# -- GRSoft: individual SLA for all users ---------------------------------------------------------


def test_individual_sla_customer_any_user_opens_a_ticket(desks: Desks) -> None:
    """АО «ТоргСеть» bought the individual SLA: a colleague of its specialist, known by
    contact list or only by the company's domain, gets a ticket and its acknowledgement."""
    for sender in (TORGSET_OPERATOR, TORGSET_NEWCOMER):
        raw = modern(
            sender,
            GRSOFT,
            f"AceTeam: не открываются маршруты ({sender[1]})",
            _ACETEAM_REPORT.format(code="31052", name=sender[0]),
        )
        line = desks.ingest("torgset.eml", raw)
        assert line["desk"] == "grsoft" and line["outcome"] == "ticket", line
        assert line["reason"] is None and line["ticket"] and line["missing"] == [], line
        check_reply(
            desks.reply(line["spool_id"]),
            language="ru",
            to=sender[1],
            ticket=line["ticket"],
            says=(line["ticket"],),
        )


def test_customer_without_the_individual_sla_still_gets_the_designated_contact_reply(
    desks: Desks,
) -> None:
    """ООО Ромашка has no individual SLA: the same complete request from a colleague of its
    specialist is refused with the reply naming the specialist."""
    raw = modern(
        PETROV,
        GRSOFT,
        "AceTeam: не открываются маршруты",
        _ACETEAM_REPORT.format(code="20417", name=PETROV[0]),
    )
    line = desks.ingest("romashka.eml", raw)
    outcome(line, "quarantined", desk="grsoft", reason="not_designated_contact")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=PETROV[1],
        ticket=None,
        says=("назначенный специалист — ivanov@romashka.test",),
    )
    # the specialist's own request opens a ticket, as before
    line = desks.ingest(
        "ivanov.eml",
        modern(
            IVANOV,
            GRSOFT,
            "AceTeam: маршруты",
            _ACETEAM_REPORT.format(code="20417", name=IVANOV[0]),
        ),
    )
    assert line["outcome"] == "ticket", line


# -- cloudempiere: Czech ---------------------------------------------------------------------------

LANGUAGES = REPO / "tests" / "labelled" / "languages" / "cloudempiere.toml"
LANGUAGE_FLOOR = 0.9
"""Share of the labelled mails whose language is detected right (measured: 51 of 54; the
three others are unsure, which answers in the desk's Slovak: right for all three)."""


def test_czech_is_told_from_slovak_on_the_labelled_mails() -> None:
    with LANGUAGES.open("rb") as fh:
        mails = tomllib.load(fh)["mail"]
    counts = {lang: sum(1 for m in mails if m["language"] == lang) for lang in ("cs", "sk")}
    assert counts["cs"] >= 20 and counts["sk"] >= 20, counts
    right = wrong = 0
    for m in mails:
        found = detect(m["text"], DETECTABLE)
        right += found == m["language"]
        # unsure is allowed (the desk's language answers); the other language never
        wrong += found is not None and found != m["language"]
    assert wrong == 0
    assert right / len(mails) >= LANGUAGE_FLOOR, f"{right} of {len(mails)}"


CZECH_CUSTOMER = ("Jana Procházková", "jana.prochazkova@tatralog.test")


def test_czech_mail_gets_a_czech_acknowledgement(desks: Desks) -> None:
    raw = modern(
        CZECH_CUSTOMER,
        CLOUDEMPIERE,
        "Nejde uložit příjemku",
        "Dobrý den,\n\nod dnešního rána nám v modulu Sklad nejde uložit příjemka, systém hlásí\n"
        "chybu „Neplatné datum“. Týká se to všech skladníků v Olomouci. Můžete se na to\n"
        "prosím podívat?\n\nDěkuji a přeji hezký den\nJana Procházková\n",
    )
    line = desks.ingest("czech.eml", raw)
    assert (line["desk"], line["outcome"]) == ("cloudempiere", "ticket"), line
    reply = desks.reply(line["spool_id"])
    text = text_of(reply)
    assert text.startswith("Dobrý den, Jana Procházková, děkujeme, že jste se obrátili"), text
    assert f"Váš požadavek jsme zaevidovali pod číslem {line['ticket']}" in text, text
    assert reply["Content-Language"] == "cs"


def test_czech_data_change_request_is_refused_in_czech(desks: Desks) -> None:
    raw = modern(
        CZECH_CUSTOMER,
        CLOUDEMPIERE,
        "Oprava stavu skladu",
        "Dobrý den,\n\nprosím opravte nám přímo v databázi stav skladu u položky 4711,\n"
        "má tam být 120 ks místo 12.\n\nDěkuji\nJana Procházková\n",
    )
    line = desks.ingest("czech-data.eml", raw)
    outcome(line, "quarantined", desk="cloudempiere", reason="out_of_scope")
    text = text_of(desks.reply(line["spool_id"]))
    assert text.startswith("Referenční číslo: Q-"), text  # above the greeting, to quote
    assert ". Dobrý den, Jana Procházková, děkujeme za Vaši zprávu." in text, text  # joined lines
    assert "„manipulace s uživatelskými daty“" in text, text


def test_slovak_mail_is_still_answered_in_slovak(desks: Desks) -> None:
    raw = modern(
        ("Peter Horváth", "peter.horvath@tatralog.test"),
        CLOUDEMPIERE,
        "Nejde uložiť príjemku",
        "Dobrý deň,\n\nod dnešného rána nám v module Sklad nejde uložiť príjemka, systém hlási\n"
        "chybu „Neplatný dátum“. Môžete sa na to, prosím, pozrieť?\n\nĎakujem\nPeter Horváth\n",
    )
    line = desks.ingest("slovak.eml", raw)
    reply = desks.reply(line["spool_id"])
    assert text_of(reply).startswith("Dobrý deň, Peter Horváth, ďakujeme"), text_of(reply)
    assert reply["Content-Language"] == "sk"


# -- check-config: a language without its templates ---------------------------------------------


def _broken_setup(tmp_path: Path, *, drop: str | None = None) -> tuple[Path, Path, Path]:
    """A configuration over copies of the shipped desks and templates, `drop` removed
    (a language folder "cs" or one template "cs/out_of_scope.txt.j2")."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    if drop is not None:
        target = templates / drop
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    desks_dir = copy_desks(tmp_path)
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks_dir, templates=templates
    )
    return config, desks_dir / "cloudempiere.toml", templates


def test_check_config_passes_on_the_shipped_desks_and_templates(tmp_path: Path) -> None:
    config, _, _ = _broken_setup(tmp_path)
    code, out, err = run(config, "check-config")
    assert code == 0, out + err
    assert "cloudempiere" in out


def test_check_config_refuses_a_listed_language_without_templates(tmp_path: Path) -> None:
    config, desk_file, templates = _broken_setup(tmp_path, drop="cs")
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert f"{desk_file}: languages: no templates for language 'cs'" in err, err
    assert f"{templates / 'cs'} is missing" in err and "cs/ack.txt.j2" in err, err


def test_check_config_refuses_a_language_that_lacks_one_reply_its_rules_send(
    tmp_path: Path,
) -> None:
    config, desk_file, _ = _broken_setup(tmp_path, drop="cs/out_of_scope.txt.j2")
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert f"{desk_file}: languages: language 'cs' lacks the template cs/out_of_scope.txt.j2" in err


def test_check_config_refuses_a_desk_language_and_a_customer_language_without_templates(
    tmp_path: Path,
) -> None:
    config, desk_file, _ = _broken_setup(tmp_path)
    shipped = desk_file.read_text()
    desk_file.write_text(shipped.replace('language = "sk"', 'language = "de"', 1))
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert f"{desk_file}: language: no templates for language 'de'" in err, err

    # a customer's own language: the first customer of the desk answers in Hungarian
    desk_file.write_text(
        shipped.replace(
            'name = "Tatra Logistics s.r.o."', 'name = "Tatra Logistics s.r.o."\nlanguage = "hu"', 1
        )
    )
    code, out, err = run(config, "check-config")
    assert code == 78, out + err
    assert f"{desk_file}: customers.0.language: no templates for language 'hu'" in err, err


# -- the Czech templates render as tidy replies ----------------------------------------------

_LATER_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("reopened", {}),
    ("reopened_as_new", {"earlier_ticket": "CEM-000007", "earlier_state": "closed"}),
    ("reopened_as_new", {"earlier_ticket": "CEM-000007", "earlier_state": "solved"}),
    ("solved", {"reopen_days": 14, "reopen_until": "17.03.2030 12:00 (Bratislava)"}),
    ("solved", {"reopen_days": 1, "reopen_until": "04.03.2030 12:00 (Bratislava)"}),
    ("solved", {"reopen_days": 0, "reopen_until": None}),
    ("bug_confirmed", {"agent": "Martin Kováč"}),
    ("bug_fixed", {"agent": "Martin Kováč", "release": "2.4.1"}),
    (
        "extension",
        {
            "old_deadline": "03.03.2030 12:00 (Bratislava)",
            "new_deadline": "05.03.2030 12:00 (Bratislava)",
            "extension_reason": "Čekáme na výsledek testů.",
        },
    ),
]


@pytest.mark.parametrize(("event", "extra"), [*template_cases.CASES, *_LATER_EVENTS])
def test_every_czech_template_renders_a_tidy_signed_reply(
    event: str, extra: dict[str, Any]
) -> None:
    """The same cases tests/test_templates.py renders for the other languages, in Czech."""
    assert (REPO / "templates" / "cs" / f"{event}.txt.j2").is_file()
    vals = template_cases.values("sk", event, **extra) | {"customer_name": "Jana Procházková"}
    if "customer_name" in extra:
        vals["customer_name"] = extra["customer_name"]
    text = Renderer(REPO / "templates").render_text("cs", event, vals)
    if text.startswith("Referenční číslo: Q-"):  # a refusal: the reference stands first
        text = text.split("\n\n", 1)[1]
    lines = text.split("\n")
    assert text.startswith("Dobrý den"), text[:40]
    assert text.endswith("\n") and not text.endswith("\n\n") and "\n\n\n" not in text
    assert "-- " in lines[-4:-2] and lines[-1] == "" and lines[-2] == "Podpora cloudempiere"
    assert "None" not in text and "ADMIN-ONLY" not in text
    for slovak in ("Ďakujeme", "ďakujeme", "požiadavk", "správu", "Dobrý deň"):
        assert slovak not in text, f"Slovak {slovak!r} in a Czech reply"
    for line in lines:
        assert len(line) <= 78 and (line == "-- " or line == line.rstrip()), repr(line)


# -- detection through the shipped desks ---------------------------------------------------------


def test_grsoft_impact_told_without_a_label_is_not_asked_for(desks: Desks) -> None:
    """Issue 11: "менеджеры не видят задачи" is the impact; only what is really missing is asked."""
    raw = modern(
        IVANOV,
        GRSOFT,
        "AT-20417: задачи не видны",
        "Добрый день!\n\nПосле вчерашнего обновления AceTeam в мобильном приложении пропал\n"
        "список задач на сегодня, хотя в веб-кабинете задачи назначены. Обновление списка\n"
        "не помогает, перезапуск приложения тоже. Менеджеры не видят задачи, из-за этого\n"
        "стоит отгрузка по утренним заказам.\n\nИванов Сергей\n+7 916 123-45-67\n",
    )
    line = desks.ingest("impact.eml", raw)
    outcome(
        line,
        "ticket",
        desk="grsoft",
        ticket=line["ticket"],
        missing=["steps_to_reproduce", "affected_employees"],
    )
    text = text_of(desks.reply(line["spool_id"]))
    assert "Порядок воспроизведения" in text and "Количество сотрудников" in text, text
    assert "Влияние на работу" not in text, text


def test_cloudempiere_slovak_data_cleanup_without_the_old_verbs_is_refused(desks: Desks) -> None:
    raw = modern(
        ("Peter Horváth", "peter.horvath@tatralog.test"),
        CLOUDEMPIERE,
        "testovacie objednávky",
        "Ahojte,\n\nvyčistite nám prosím databázu od testovacích objednávok z minulého\n"
        "týždňa, robili sme školenie.\n\nVďaka\nPeter\n",
    )
    line = desks.ingest("cleanup.eml", raw)
    outcome(line, "quarantined", desk="cloudempiere", reason="out_of_scope")
    text = text_of(desks.reply(line["spool_id"]))
    assert "„manipulácia s užívateľskými dátami“" in text, text


def test_cloudempiere_how_to_delete_question_opens_a_ticket(desks: Desks) -> None:
    raw = modern(
        ("Peter Horváth", "peter.horvath@tatralog.test"),
        CLOUDEMPIERE,
        "Faktúra omylom",
        "Dobrý deň,\n\nako môžem vymazať faktúru, ktorú som vystavil omylom?\n\nĎakujem\nPeter\n",
    )
    line = desks.ingest("howto.eml", raw)
    assert (line["outcome"], line["reason"]) == ("ticket", None), line
