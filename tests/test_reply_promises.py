"""What every reply promises (issue 11), against the five shipped desks, through `mailbot
ingest` and the reply text the customer reads.

- The acknowledgement states every deadline of the ticket: the first answer and, where the
  desk's target has one, the resolution; each as the date and time in the desk's zone that
  `ingest` reports (first_response_due, resolution_due), the zone named in the reply's own
  language ("czasu warszawskiego", "по киевскому времени", "به وقت تهران"...).
- Every refusal opens with a reference the customer can quote, and `mailbot quarantine show`
  finds the refused mail by it, however it is retyped.

The expected deadlines are read from the JSON line of the same ingest, so these tests hold on
any day and whatever the desks' calendars make of it: what they check is that the reply says
the same moments the ticket carries, in words of the reply's language.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

import jdatetime

from mailbot.config import DeskSettings
from mailbot.replies import format_deadline
from tests.test_desks import (
    CLEVERBOX,
    CLOUDEMPIERE,
    GAMMA,
    GRSOFT,
    IVANOV,
    JAN,
    OLENA,
    PETROV,
    SERWISANT,
    TATRA,
    Desks,
    check_reply,
    desks,
    legacy,
    modern,
    outcome,
    pe_bytes,
    plain,
    with_received_on_top,
    zip_of,
)

__all__ = ["desks"]  # the fixture, imported for pytest

CRMONLINE = "support@crmonline.test"
ALI = ("علی رضایی", "ali@nemooneh.test")
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
REFERENCE = re.compile(r"\bQ-[0-9A-F]{8}\b")


def when(value: str, zone_words: str) -> str:
    """A due time from `ingest`'s JSON as the reply writes it: 07.12.2026 11:00 <zone words>."""
    return f"{datetime.fromisoformat(value):%d.%m.%Y %H:%M} {zone_words}"


def persian_when(value: str) -> str:
    """A due time as a Persian reply writes it: Solar Hijri date, Persian digits, Tehran."""
    local = datetime.fromisoformat(value)
    solar = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    text = f"{solar.year:04d}/{solar.month:02d}/{solar.day:02d} {local:%H:%M}"
    return f"{text.translate(PERSIAN_DIGITS)} به وقت تهران"


def deadlines(line: dict[str, Any]) -> tuple[str, str | None]:
    assert line["first_response_due"], line
    assert line["sla_paused"] is False, line
    return line["first_response_due"], line["resolution_due"]


def refused(desks: Desks, line: dict[str, Any], *, label: str) -> str:
    """The reference the refusal gives, read from its first lines as the customer sees them,
    with the language's own label before it; the mail is then found by it."""
    reply = desks.reply(line["spool_id"])
    head = " ".join(plain(reply).split("\n")[:5])
    found = REFERENCE.findall(head)
    assert len(found) == 1, head
    assert f"{label} {found[0]}" in head, head
    assert plain(reply).count(found[0]) == 1
    shown = desks.json("quarantine", "show", found[0])
    assert (shown["id"], shown["state"]) == (line["spool_id"], "quarantined")
    assert (shown["reason"], shown["reference"]) == (line["reason"], found[0])
    return found[0]


# -- Serwisant Online: Polish, Warsaw, first answer and resolution --------------------------------


def test_serwisant_ack_gives_both_deadlines_in_warsaw_time_and_refusals_a_reference(
    desks: Desks,
) -> None:
    request = modern(
        JAN,
        SERWISANT,
        "Nie działa wysyłka SMS",
        "Dzień dobry,\n\nod rana nie wychodzą SMS-y z powiadomieniami do klientów o zmianie "
        "statusu zlecenia. W historii widać status „oczekuje”.\n\nPozdrawiam\nJan Kowalski\n",
    )
    installer = modern(
        JAN,
        SERWISANT,
        "Program do drukarki etykiet",
        "Dzień dobry,\n\nw załączniku sterownik drukarki etykiet, którego używamy w serwisie. "
        "Czy zadziała z Serwisantem?\n\nJan Kowalski\n",
        attachments=(("sterownik.zip", zip_of(**{"setup.exe": pe_bytes()}), "application/zip"),),
    )
    ack_line, refused_line = desks.ingest_many(("sms.eml", request), ("driver.eml", installer))

    outcome(ack_line, "ticket", desk="serwisant", ticket="SRW-000001")
    first, resolution = deadlines(ack_line)
    assert resolution is not None and resolution != first
    check_reply(
        desks.reply(ack_line["spool_id"]),
        language="pl",
        to=JAN[1],
        ticket="SRW-000001",
        says=(
            f"Odpowiemy najpóźniej do {when(first, 'czasu warszawskiego')}, a zgłoszenie"
            f" rozwiążemy najpóźniej do {when(resolution, 'czasu warszawskiego')}.",
        ),
    )

    outcome(refused_line, "quarantined", desk="serwisant", reason="distributive_attachment")
    reference = refused(desks, refused_line, label="Numer referencyjny:")
    # as people retype it: lower case, without Q-, pasted with brackets or spaces
    for typed in (reference.lower(), reference[2:], f"[{reference}]", f" q-{reference[2:]} "):
        assert desks.json("quarantine", "show", typed)["id"] == refused_line["spool_id"], typed
    text = desks.run("quarantine", "show", reference).stdout
    assert f"reference: {reference}" in text


# -- cloudempiere: Slovak and English, Bratislava, first answer only ------------------------------


def test_cloudempiere_ack_gives_the_first_answer_in_bratislava_time_and_a_duplicate_a_reference(
    desks: Desks,
) -> None:
    slovak = modern(
        TATRA,
        CLOUDEMPIERE,
        "Chyba pri zaúčtovaní faktúry",
        "Dobrý deň,\n\npri zaúčtovaní prijatej faktúry sa zobrazí chyba „Obdobie je uzavreté“, "
        "hoci november ešte neuzatvárame. Doklad sa neuloží.\n\nĎakujem\nJana Kováčová\n",
        message_id="<faktura-1@tatralog.test>",
    )
    english = modern(
        ("Jana Kovacova", "jana.kovacova@tatralog.test"),
        CLOUDEMPIERE,
        "Error when posting an invoice",
        "Hello,\n\nwhen we post a purchase invoice the system shows an error and the document "
        "is not saved. Could you please have a look?\n\nThank you\nJana\n",
    )
    lines = desks.ingest_many(
        ("sk.eml", slovak),
        ("en.eml", english),
        ("again.eml", with_received_on_top(slovak, "mx2.tatralog.test")),
    )

    outcome(lines[0], "ticket", desk="cloudempiere", ticket="CEM-000001")
    first, resolution = deadlines(lines[0])
    assert resolution is None  # the desk promises no resolution time: the ack names none
    text = check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="sk",
        to=TATRA[1],
        ticket="CEM-000001",
        says=(f"Odpovieme najneskôr do {when(first, 'bratislavského času')}.",),
    )
    assert "vyriešime" not in text and "Bratislava" not in text

    outcome(lines[1], "ticket", desk="cloudempiere", ticket="CEM-000002")
    first, _ = deadlines(lines[1])
    check_reply(
        desks.reply(lines[1]["spool_id"]),
        language="en",
        to="jana.kovacova@tatralog.test",
        ticket="CEM-000002",
        says=(f"We will answer by {when(first, 'Bratislava time')} at the latest.",),
    )

    outcome(lines[2], "quarantined", desk="cloudempiere", reason="duplicate", ticket="CEM-000001")
    refused(desks, lines[2], label="Referenčné číslo:")


# -- GRSoft: Russian and English, Moscow, first answer only ---------------------------------------


def test_grsoft_ack_gives_the_first_answer_in_moscow_time_and_a_colleague_a_reference(
    desks: Desks,
) -> None:
    russian = modern(
        IVANOV,
        GRSOFT,
        "AceTeam: не строится отчёт по визитам",
        "Добрый день!\n\n"
        "Код проекта: AT-20417\n"
        "Модуль: отчёты, раздел «Визиты».\n"
        "С понедельника отчёт по визитам в веб-кабинете AceTeam строится пустым, хотя визиты\n"
        "в мобильном приложении отмечены и синхронизированы, ошибок на экране нет.\n"
        "Шаги: открыть «Отчёты» → «Визиты», выбрать период за неделю, нажать «Построить».\n"
        "Влияние: супервайзеры не могут проверить работу агентов и закрыть неделю.\n"
        "Затронуто сотрудников: 8\n\n"
        "--\nС уважением,\nИванов Сергей\nтел. +7 916 123-45-67\n",
    )
    english = modern(
        ("John Miller", "john.miller@fieldforce.test"),
        GRSOFT,
        "AcePacer: route optimisation fails for all reps",
        "Hello,\n\n"
        "Since this morning the route optimisation in the AcePacer mobile app fails with the\n"
        'message "Solver timeout" for every sales rep, so nobody can start their day plan.\n'
        "Steps to reproduce:\n"
        "1. Open the app and go to Today's route.\n"
        "2. Tap Optimise.\n"
        "3. After a minute the error appears and the route stays unsorted.\n"
        "Impact: 25 employees cannot work their routes and we are losing visits.\n\n"
        "Best regards,\nJohn Miller\nIT manager, FieldForce Ltd.\nphone +44 20 7946 0321\n",
    )
    colleague = modern(
        PETROV,
        GRSOFT,
        "AceTeam не строит отчёт по визитам",
        "Коллеги, добрый день!\n\nСергей в отпуске, пишу вместо него. Код проекта: AT-20417. "
        "Отчёт по визитам в AceTeam с понедельника строится пустым.\n\n--\nПетров Алексей\n",
    )
    lines = desks.ingest_many(("ru.eml", russian), ("en.eml", english), ("petrov.eml", colleague))

    outcome(lines[0], "ticket", desk="grsoft", ticket="GRS-000001")
    first, resolution = deadlines(lines[0])
    assert resolution is None
    text = check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="ru",
        to=IVANOV[1],
        ticket="GRS-000001",
        says=(f"Мы ответим не позднее {when(first, 'по московскому времени')}.",),
    )
    assert "Moscow" not in text and "обработаем" not in text

    outcome(lines[1], "ticket", desk="grsoft", ticket="GRS-000002")
    first, _ = deadlines(lines[1])
    check_reply(
        desks.reply(lines[1]["spool_id"]),
        language="en",
        to="john.miller@fieldforce.test",
        ticket="GRS-000002",
        says=(f"We will answer by {when(first, 'Moscow time')} at the latest.",),
    )

    outcome(lines[2], "quarantined", desk="grsoft", reason="not_designated_contact")
    refused(desks, lines[2], label="Номер для справок:")


# -- crmonline: Persian, Tehran, Solar Hijri ------------------------------------------------------


def test_crmonline_ack_gives_the_first_answer_in_tehran_time_and_a_refusal_a_reference(
    desks: Desks,
) -> None:
    question = modern(
        ALI,
        CRMONLINE,
        "سوال درباره پرتال",
        "سلام، در پرتال پشتیبانی گزارش تیکت‌ها نمایش داده نمی‌شود. لطفا راهنمایی کنید.\n\n"
        "با تشکر\nعلی رضایی\n",
    )
    installer = modern(
        ALI,
        CRMONLINE,
        "نرم افزار حسابداری",
        "سلام، فایل نصب نرم افزار حسابداری ما پیوست است. آیا با CRM شما کار می‌کند؟\n\nعلی رضایی\n",
        attachments=(("setup.zip", zip_of(**{"setup.exe": pe_bytes()}), "application/zip"),),
    )
    ack_line, refused_line = desks.ingest_many(("q.eml", question), ("setup.eml", installer))

    outcome(ack_line, "ticket", desk="crmonline", ticket="CRM-000001")
    first, resolution = deadlines(ack_line)
    assert resolution is None
    text = check_reply(
        desks.reply(ack_line["spool_id"]),
        language="fa",
        to=ALI[1],
        ticket="CRM-000001",
        says=(f"حداکثر تا {persian_when(first)} پاسخ خواهیم داد.",),
    )
    assert "Tehran" not in text and "(تهران)" not in text

    outcome(refused_line, "quarantined", desk="crmonline", reason="distributive_attachment")
    refused(desks, refused_line, label="شماره پیگیری:")


# -- CleverBox:CRM: Russian and Ukrainian, Kyiv, first reaction and processing --------------------


def test_cleverbox_ack_gives_reaction_and_processing_in_kyiv_time_and_a_stranger_a_reference(
    desks: Desks,
) -> None:
    ukrainian = modern(
        OLENA,
        CLEVERBOX,
        "Не відкривається склад",
        "Добрий день!\n\nЗранку не відкривається модуль складу, помилка 500. Що робити?\n\n"
        "Олена Коваль\n",
    )
    russian = legacy(
        GAMMA,
        CLEVERBOX,
        "Упала CRM, не открывается ни один модуль",
        "Добрый день!\n\n"
        "С 9:40 CRM не открывается: после входа белый экран, ни один модуль не работает.\n"
        "Просим срочно восстановить работу.\n\n"
        "--\nДмитрий Гаврилов\nруководитель IT, «Гамма»\n"
        "Купон экстренной поддержки: CBX7-Q2M9-K4\n",
        charset="windows-1251",
    )
    stranger = modern(
        ("Андрій Мельник", "a.melnyk@novyi-magazyn.test"),
        CLEVERBOX,
        "Не працює імпорт контактів",
        "Добрий день!\n\nПід час імпорту контактів з файлу Excel система зависає. "
        "Підкажіть, будь ласка, що робити?\n\nАндрій Мельник\n",
    )
    lines = desks.ingest_many(("uk.eml", ukrainian), ("ru.eml", russian), ("new.eml", stranger))

    # standard level: 24 working hours to react and 24 to process, so one moment, named once
    outcome(lines[0], "ticket", desk="cleverbox", ticket="CBX-000001")
    first, resolution = deadlines(lines[0])
    assert resolution == first
    check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket="CBX-000001",
        says=(
            f"Ми відповімо та опрацюємо звернення не пізніше {when(first, 'за київським часом')}.",
        ),
    )

    # emergency while the coupon is valid (3 h to react, 24 to process), else standard
    outcome(lines[1], "ticket", desk="cleverbox", ticket="CBX-000002")
    first, resolution = deadlines(lines[1])
    assert resolution is not None
    kyiv = "по киевскому времени"
    says = (
        f"Мы ответим и обработаем обращение не позднее {when(first, kyiv)}."
        if resolution == first
        else f"Мы ответим не позднее {when(first, kyiv)} и обработаем обращение не позднее"
        f" {when(resolution, kyiv)}."
    )
    # the two differ for an emergency (3 h / 24 h) or a critical request (4 h / 24 h);
    # standard is 24 h / 24 h (in 2031 the coupon has expired: a date-free test)
    differ = lines[1]["sla_level"] == "emergency" or lines[1]["priority"] == "critical"
    assert (resolution != first) == differ, lines[1]
    text = check_reply(
        desks.reply(lines[1]["spool_id"]),
        language="ru",
        to=GAMMA[1],
        ticket="CBX-000002",
        says=(says,),
    )
    assert "Kyiv" not in text and "Киев)" not in text

    outcome(lines[2], "quarantined", desk="cleverbox", reason="unknown_customer")
    reference = refused(desks, lines[2], label="Номер для довідок:")
    # the reference also releases it (the admin's override) into a ticket
    released = desks.run("quarantine", "release", reference.lower(), "--force", "--no-replies")
    assert released.exit_code == 0, released.output
    assert '"outcome": "ticket"' in released.stdout


def test_a_reference_nobody_was_given_is_not_found(desks: Desks) -> None:
    result = desks.run("quarantine", "show", "Q-00000000")
    assert result.exit_code == 66
    assert "no quarantine entry has the reference 'Q-00000000'" in result.stderr


def test_a_zone_or_language_without_words_is_named_by_its_iana_name() -> None:
    toronto = DeskSettings(
        name="north",
        title="North",
        addresses=["help@north.test"],
        language="pl",
        timezone="America/Toronto",
        ticket_prefix="NTH",
    )
    moment = datetime(2030, 1, 15, 17, 0, tzinfo=UTC)
    assert format_deadline(moment, toronto) == "15.01.2030 12:00 (America/Toronto)"
    kyiv = toronto.model_copy(update={"timezone": "Europe/Kyiv"})
    assert format_deadline(moment, kyiv, "de") == "15.01.2030 19:00 (Europe/Kyiv)"
    assert format_deadline(moment, kyiv, "uk") == "15.01.2030 19:00 за київським часом"


def test_a_reference_shared_by_two_mails_names_the_refused_one_or_lists_both(
    desks: Desks,
) -> None:
    stranger = modern(
        ("Андрій Мельник", "a.melnyk@novyi-magazyn.test"),
        CLEVERBOX,
        "Не працює імпорт контактів",
        "Добрий день!\n\nІмпорт контактів з Excel зависає. Що робити?\n\nАндрій Мельник\n",
    )
    line = desks.ingest("new.eml", stranger)
    reference = refused(desks, line, label="Номер для довідок:")
    # another spool item whose id starts with the same 8 hex digits (1 in 4 billion: made)
    twin = line["spool_id"][:8] + "0" * 56
    with sqlite3.connect(desks.db) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(
            conn.execute("SELECT * FROM spool_item WHERE id = ?", (line["spool_id"],)).fetchone()
        )
        row |= {"id": twin, "state": "done"}
        conn.execute(
            f"INSERT INTO spool_item ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )
    assert desks.json("quarantine", "show", reference)["id"] == line["spool_id"]
    with sqlite3.connect(desks.db) as conn:
        conn.execute("UPDATE spool_item SET state = 'quarantined' WHERE id = ?", (twin,))
    result = desks.run("quarantine", "show", reference)
    assert result.exit_code == 2, result.output
    assert line["spool_id"][:16] in result.stderr and twin[:16] in result.stderr
