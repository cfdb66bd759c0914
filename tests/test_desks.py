"""Acceptance tests of issue 3 ("Inbound rules") against the five shipped desk files.

Each test writes mail the way real customers write it (the desk's language, signatures,
quoted history, HTML-only bodies, KOI8-R / windows-1251 / ISO-8859-2 charsets, attachments),
feeds it to `mailbot ingest` through click's CliRunner with a configuration that uses
`config/desks/*.toml` as shipped, and checks two things a user sees: the JSON line (outcome,
reason, ticket, missing, annotations) and the reply text the customer gets, read back from
the outbox row of that spool item.

Dates: the example customers' plans, packages and coupons are fixed in the desk files while
the tests run on any day, so every expectation that depends on "today" is computed from the
clock in the desk's time zone, or the case is chosen so that its answer never depends on it
(Elektro-Nowak on plan basic is never entitled to training).

The monthly quota test puts the customer's 50 earlier tickets of this month straight into the
database (sqlmodel `Ticket` rows) instead of ingesting 50 mails: it is faster, and it keeps the
per-address auto-reply limit (10 an hour) from suppressing the very reply under test.
"""

from __future__ import annotations

import email
import io
import json
import sqlite3
import struct
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result

from mailbot.clock import system_clock
from mailbot.store import Database, Ticket
from tests.conftest import SHIPPED_DESKS, invoke, write_config

MIB = 1024 * 1024

LANGUAGE_GREETING = {
    "ru": "Здравствуйте",
    "uk": "Добрий день",
    "pl": "Dzień dobry",
    "sk": "Dobrý deň",
    "en": "Hello",
    "fa": "با سلام و احترام",
}
"""The first words of every reply template, per language: what tells the reply's language."""


# -- the desks under test: one temporary configuration per test ---------------------------------


@dataclass
class Desks:
    folder: Path
    config: Path
    db: Path
    received: dict[str, bytes] = field(default_factory=dict)
    """spool id -> the raw mail ingested under it."""

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def run(self, *args: str) -> Result:
        return invoke(self.config, *args)

    def ingest_many(self, *mails: tuple[str, bytes]) -> list[dict[str, Any]]:
        paths = []
        for name, raw in mails:
            path = self.folder / "in" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(raw)
            paths.append(str(path))
        result = self.run("ingest", *paths)
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [line["file"] for line in lines] == paths
        for line, (_, raw) in zip(lines, mails, strict=True):
            self.received[line["spool_id"]] = raw
        return lines

    def ingest(self, name: str, raw: bytes) -> dict[str, Any]:
        [line] = self.ingest_many((name, raw))
        return line

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def outbox(self, spool_id: str) -> list[EmailMessage]:
        """The replies queued for one received mail, oldest first; each threads under it."""
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute(
                "SELECT raw FROM outbox WHERE spool_id = ? ORDER BY id", (spool_id,)
            ).fetchall()
        replies = [_reply(raw) for (raw,) in rows]
        original = email.message_from_bytes(self.received[spool_id], policy=policy.default)
        for reply in replies:
            assert reply["In-Reply-To"] == original["Message-ID"]
            assert original["Message-ID"] in str(reply["References"]).split()
        return replies

    def reply(self, spool_id: str) -> EmailMessage:
        [reply] = self.outbox(spool_id)
        return reply

    def outbox_count(self) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])


def _reply(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.fixture
def desks(tmp_path: Path) -> Desks:
    db = tmp_path / "mailbot.db"
    config = write_config(tmp_path, f"sqlite:///{db}", desks=SHIPPED_DESKS, max_size=40 * MIB)
    return Desks(tmp_path, config, db)


# -- what a reply must be -------------------------------------------------------------------------


def plain(reply: EmailMessage) -> str:
    body = reply.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def text_of(reply: EmailMessage) -> str:
    """The plain-text body, its lines joined: templates wrap at 76 columns anywhere."""
    return " ".join(plain(reply).split())


def check_reply(
    reply: EmailMessage, *, language: str, to: str, ticket: str | None, says: tuple[str, ...]
) -> str:
    """The reply goes back to the customer, in `language`, tagged with the ticket, saying `says`."""
    text = text_of(reply)
    assert LANGUAGE_GREETING[language] in text[:60], text[:80]
    assert reply["To"] == to
    assert reply["Auto-Submitted"] == "auto-replied"
    subject = str(reply["Subject"])
    if ticket is not None:
        assert f"[{ticket}] " in subject, subject
        assert reply["X-Mailbot-Ticket"] == ticket
    else:
        assert "[" not in subject, subject
    for words in says:
        assert " ".join(words.split()) in text, f"{words!r} not in reply: {text}"
    return text


def outcome(
    line: dict[str, Any],
    expected: str,
    *,
    desk: str,
    reason: str | None = None,
    ticket: str | None = None,
    missing: list[str] | None = None,
) -> None:
    assert line["spool_id"] and line["desk"] == desk, line
    assert (line["outcome"], line["reason"], line["ticket"]) == (expected, reason, ticket), line
    assert line["missing"] == (missing or []), line
    for key in ("product", "type", "category", "impact", "urgency", "priority", "sla_level"):
        assert key in line, line


# -- mail as customers' programs write it ---------------------------------------------------------


def _received(sender: str, when: datetime) -> str:
    host = sender.rpartition("@")[2]
    return f"from mail.{host} (mail.{host} [192.0.2.17]) by mx.support.test with ESMTPS; " + (
        format_datetime(when)
    )


def modern(
    sender: tuple[str, str],
    to: str,
    subject: str,
    text: str | None = None,
    *,
    html: str | None = None,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
    message_id: str | None = None,
    when: datetime | None = None,
) -> bytes:
    """A UTF-8 mail as Thunderbird, Outlook or Gmail send it (plain, HTML or both)."""
    when = when or system_clock()
    msg = EmailMessage()
    msg["Received"] = _received(sender[1], when)
    msg["From"] = formataddr(sender)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id or make_msgid(domain=sender[1].rpartition("@")[2])
    for name, value in headers:
        msg[name] = value
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        assert html is not None
        msg.set_content(html, subtype="html")
    for filename, data, mime in attachments:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=policy.SMTP)


def legacy(
    sender: tuple[str, str],
    to: str,
    subject: str,
    text: str,
    *,
    charset: str,
    subtype: str = "plain",
    attachments: tuple[tuple[str, bytes, str], ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
    message_id: str | None = None,
    when: datetime | None = None,
) -> bytes:
    """A mail in a national 8-bit charset, headers as encoded words of that charset too,
    as The Bat!, Outlook Express and old webmails still send it."""
    when = when or system_clock()
    body = MIMEText(text, subtype, charset)
    msg: Message
    if attachments:
        msg = MIMEMultipart("mixed")
        msg.attach(body)
        for filename, data, mime in attachments:
            part = MIMEApplication(data, mime.split("/")[1])
            part.add_header("Content-Disposition", "attachment", filename=(charset, "", filename))
            msg.attach(part)
    else:
        msg = body
    msg["Received"] = _received(sender[1], when)
    msg["From"] = f"{Header(sender[0], charset).encode()} <{sender[1]}>"
    msg["To"] = to
    msg["Subject"] = Header(subject, charset).encode()
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id or make_msgid(domain=sender[1].rpartition("@")[2])
    msg["X-Mailer"] = "The Bat! (v9.4.2) Professional"
    for name, value in headers:
        msg[name] = str(value)
    raw = msg.as_bytes()
    assert raw.isascii() or charset != "utf-8"
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def with_received_on_top(raw: bytes, host: str) -> bytes:
    """The very same mail, delivered again through another relay: other bytes, same Message-ID."""
    when = format_datetime(system_clock())
    hop = f"Received: from {host} by mx.support.test with ESMTP; {when}\r\n"
    return hop.encode() + raw


def pe_bytes() -> bytes:
    """A minimal Windows PE executable (DOS stub, PE signature, COFF and optional header)."""
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x80)
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0xE0, 0x102)
    return bytes(dos) + b"PE\x00\x00" + coff + struct.pack("<H", 0x10B) + bytes(0xE0 - 2)


def zip_of(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sqlite_database(folder: Path) -> bytes:
    """A mobile device's database, as Napoleon keeps it: a real SQLite file."""
    path = folder / "napoleon_device.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, client TEXT, sent INTEGER)")
        conn.executemany(
            "INSERT INTO orders (client, sent) VALUES (?, ?)",
            [("ИП Сидоров", 0), ("Магнит-Юг", 0), ("Ромашка-Юг склад", 1)],
        )
    data = path.read_bytes()
    path.unlink()
    return data


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


# -- the addresses of the shipped desks and their example customers ------------------------------

SERWISANT = "Serwisant Online <pomoc@serwisant.test>"
CLOUDEMPIERE = "podpora@cloudempiere.test"
GRSOFT = "info@grsoft.test"
CRMONLINE = "support@crmonline.test"
CLEVERBOX = "support@cleverbox.test"

JAN = ("Jan Kowalski", "jan@kowalski-serwis.test")
NOWAK = ("Biuro Elektro-Nowak", "biuro@elektronowak.test")
IVANOV = ("Иванов Сергей", "ivanov@romashka.test")
PETROV = ("Петров Алексей", "petrov@romashka.test")
SARA = ("سارا احمدی", "sara@parsdata.test")
OLENA = ("Олена Коваль", "olena@vector.test")
MAX = ("Max Berg", "max@beta.test")
GAMMA = ("Дмитрий Гаврилов", "ops@gamma.test")
TATRA = ("Jana Kováčová", "jana.kovacova@tatralog.test")

NAPOLEON_REQUEST = """\
Добрый день!

Проект: Ромашка-Юг (Наполеон).
С утра в мобильном приложении Наполеон у торговых представителей не уходят заказы:
при синхронизации появляется ошибка «Exchange error 0x12: duplicate key», заказы остаются
в статусе «Не отправлен», а в офисной части их нет.

Как воспроизвести:
1. Открыть заказ клиенту «Магнит-Юг» и добавить две позиции.
2. Нажать «Отправить», затем запустить обмен.
3. Обмен завершается с ошибкой, заказ остаётся неотправленным.

Проблема у 12 сотрудников, мы не можем принять заказы на завтрашнюю отгрузку.

--
С уважением,
Иванов Сергей, IT-специалист ООО «Ромашка»
тел. +7 916 123-45-67
"""


# == reason codes =================================================================================


def test_oversized_polish_photo_names_the_file_and_both_sizes(desks: Desks) -> None:
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(10 * MIB + MIB // 2)
    raw = legacy(
        JAN,
        SERWISANT,
        "Błąd przy wydruku protokołu przyjęcia",
        "Dzień dobry,\n\n"
        "przy drukowaniu protokołu przyjęcia naprawy pojawia się pusta strona. Przesyłam\n"
        "zdjęcie ekranu z komunikatem.\n\n"
        "Pozdrawiam serdecznie\n"
        "Jan Kowalski\n"
        "Auto-Serwis Kowalski, ul. Żółkiewskiego 12, Łódź\n",
        charset="iso-8859-2",
        attachments=(("zdjęcie_błędu.jpg", photo, "image/jpeg"),),
    )
    assert "ł".encode("iso-8859-2") in raw or b"=B3" in raw  # really ISO-8859-2 on the wire

    line = desks.ingest("oversized.eml", raw)

    outcome(line, "quarantined", desk="serwisant", reason="oversized")
    check_reply(
        desks.reply(line["spool_id"]),
        language="pl",
        to=JAN[1],
        ticket=None,
        says=(
            "Jan Kowalski",
            "Państwa wiadomość nie została przyjęta",
            "„zdjęcie_błędu.jpg” ma 10,5 MB",
            "dopuszczalny rozmiar pliku to 10,0 MB",
            "bez tego pliku",
        ),
    )
    assert desks.json("tickets", "list") == []


def test_distributive_attachment_koi8r_mail_with_an_installer_in_a_zip(desks: Desks) -> None:
    raw = legacy(
        IVANOV,
        GRSOFT,
        "Наполеон: не устанавливается обновление",
        "Добрый день!\n\n"
        "Проект Ромашка-Юг. Обновление Наполеона не ставится на планшеты, прикладываю\n"
        "дистрибутив, который нам прислали, посмотрите, пожалуйста, что с ним не так.\n\n"
        "--\nС уважением, Иванов Сергей\nтел. +7 916 123-45-67\n",
        charset="koi8-r",
        attachments=(
            (
                "обновление_наполеон.zip",
                zip_of(**{"readme.txt": b"Napoleon 5.2", "NapoleonSetup_5.2.exe": pe_bytes()}),
                "application/zip",
            ),
        ),
    )
    assert "Обновление".encode("koi8-r") not in raw  # base64 body, =?koi8-r?...?= headers
    assert b"koi8-r" in raw

    line = desks.ingest("installer.eml", raw)

    outcome(line, "quarantined", desk="grsoft", reason="distributive_attachment")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=IVANOV[1],
        ticket=None,
        says=(
            "Иванов Сергей",
            "приложен дистрибутив программы (исполняемый файл Windows)",
            "файл «обновление_наполеон.zip» (внутри архива — «NapoleonSetup_5.2.exe»)",
            "Ваше письмо не потеряно",
        ),
    )
    # nothing lost: the refused mail's very bytes are kept
    kept = desks.run("quarantine", "show", line["spool_id"], "--raw")
    assert kept.stdout_bytes == raw


def test_duplicate_same_message_id_again_and_a_resend_name_the_first_ticket(
    desks: Desks,
) -> None:
    subject = "Не проводится накладная на перемещение"
    text = (
        "Добрый день!\n\n"
        "При проведении накладной на перемещение со склада «Киев-Центр» появляется ошибка\n"
        "«Недостаточно остатков», хотя остатки есть. Посмотрите, пожалуйста.\n\n"
        "-- \nОлена Коваль\nбухгалтер, ТОВ «Вектор»\n+380 44 123 45 67\n"
    )
    first_raw = legacy(OLENA, CLEVERBOX, subject, text, charset="windows-1251")
    # the customer pressed "send" again an hour later: a new Message-ID, the same text
    resent_raw = legacy(
        OLENA,
        CLEVERBOX,
        subject,
        text,
        charset="windows-1251",
        when=system_clock() + timedelta(hours=1),
    )
    first, again, resent = desks.ingest_many(
        ("first.eml", first_raw),
        # the same mail once more through the backup MX: other bytes, the same Message-ID
        ("again.eml", with_received_on_top(first_raw, "mx2.vector.test")),
        ("resent.eml", resent_raw),
    )

    outcome(first, "ticket", desk="cleverbox", ticket="CBX-000001")
    assert first["sla_level"] == "standard"
    outcome(again, "quarantined", desk="cleverbox", reason="duplicate", ticket="CBX-000001")
    assert again["spool_id"] != first["spool_id"]
    outcome(resent, "quarantined", desk="cleverbox", reason="duplicate", ticket="CBX-000001")

    for line in (again, resent):
        check_reply(
            desks.reply(line["spool_id"]),
            language="ru",
            to=OLENA[1],
            ticket="CBX-000001",
            says=("Это письмо у нас уже есть", "зарегистрировано как обращение CBX-000001"),
        )
    assert [t["number"] for t in desks.json("tickets", "list")] == ["CBX-000001"]
    shown = desks.json("tickets", "show", "CBX-000001")
    # the acknowledgement and the notice to the agent; the copies stay out
    assert [m["direction"] for m in shown["messages"]] == ["in", "out", "out"]


def test_missing_fields_napoleon_without_database_and_link_then_the_answer_completes_it(
    desks: Desks,
) -> None:
    subject = "Наполеон: не уходят заказы с планшетов"
    request = modern(IVANOV, GRSOFT, subject, NAPOLEON_REQUEST)
    # --dry-run judges it the same way and writes nothing
    (desks.folder / "request.eml").write_bytes(request)
    dry = desks.run("ingest", "--dry-run", str(desks.folder / "request.eml"))
    predicted = json.loads(dry.stdout)
    assert (predicted["dry_run"], predicted["outcome"], predicted["ticket"]) == (
        True,
        "ticket",
        None,
    )
    assert predicted["missing"] == ["mobile_database", "exchange_archive_link"]
    assert predicted["product"] == "napoleon"
    assert desks.outbox_count() == 0

    line = desks.ingest("request.eml", request)
    outcome(
        line,
        "ticket",
        desk="grsoft",
        ticket="GRS-000001",
        missing=["mobile_database", "exchange_archive_link"],
    )
    assert line["product"] == "napoleon"
    ticket = desks.json("tickets", "show", "GRS-000001")
    assert (ticket["state"], ticket["missing"]) == (
        "waiting_customer",
        ["mobile_database", "exchange_archive_link"],
    )
    assert (ticket["subject"], ticket["customer"], ticket["product"]) == (
        subject,
        "ООО Ромашка",
        "napoleon",
    )
    assert {"type", "category", "priority", "sla_level", "messages"} <= set(ticket)

    asked = desks.reply(line["spool_id"])
    text = check_reply(
        asked,
        language="ru",
        to=IVANOV[1],
        ticket="GRS-000001",
        says=(
            f"Спасибо за обращение «{subject}»",
            "зарегистрировано под номером GRS-000001",
            "- База данных с мобильного устройства",
            "- Ссылка на архив каталога обмена",
            "База данных с мобильного устройства: (приложите файл к письму)",
            "Ссылка на архив каталога обмена:",
            "срок ответа не идёт",
        ),
    )
    for given in (
        "Название или код проекта",
        "Имя и контактные данные",
        "Описание проблемы",
        "Приложения или модули",
        "Порядок воспроизведения",
        "Влияние на работу",
        "Количество сотрудников",
    ):
        assert given not in text  # exactly what is missing, nothing the customer gave
    assert asked["In-Reply-To"] is not None

    # the customer answers in the thread with the database attached and the link
    answer = modern(
        IVANOV,
        GRSOFT,
        f"Re: [GRS-000001] {subject}",
        "Добрый день!\n\n"
        "База с планшета во вложении, архив каталога обмена выложил сюда:\n"
        "https://disk.yandex.ru/d/Xq7mN3pL0aZk2w\n\n"
        "--\nИванов Сергей\nтел. +7 916 123-45-67\n\n"
        f"{format_datetime(system_clock())}, GRSoft <info@grsoft.test> пишет:\n"
        + "".join(f"> {row}\n" for row in plain(asked).splitlines()),
        headers=(("In-Reply-To", asked["Message-ID"]), ("References", asked["Message-ID"])),
        attachments=(
            ("napoleon_device.db", sqlite_database(desks.folder), "application/octet-stream"),
        ),
        when=system_clock() + timedelta(minutes=20),
    )
    done = desks.ingest("answer.eml", answer)
    outcome(done, "ticket", desk="grsoft", ticket="GRS-000001", missing=[])
    ticket = desks.json("tickets", "show", "GRS-000001")
    assert (ticket["state"], ticket["missing"]) == ("open", [])
    # each customer mail: its reply, then the notice to the agent
    assert [m["direction"] for m in ticket["messages"]] == ["in", "out", "out", "in", "out", "out"]
    assert "information_complete" in [e["kind"] for e in ticket["events"]]
    check_reply(
        desks.reply(done["spool_id"]),
        language="ru",
        to=IVANOV[1],
        ticket="GRS-000001",
        says=("Ваше обращение зарегистрировано под номером GRS-000001", "Мы ответим не позднее"),
    )


def test_unknown_customer_ukrainian_stranger_is_answered_in_ukrainian(desks: Desks) -> None:
    raw = modern(
        ("Андрій Мельник", "a.melnyk@novyi-magazyn.test"),
        CLEVERBOX,
        "Не працює імпорт контактів",
        "Добрий день!\n\n"
        "Ми нещодавно почали працювати з CleverBox:CRM. Під час імпорту контактів з файлу\n"
        "Excel система зависає і нічого не відбувається. Підкажіть, будь ласка, що робити?\n\n"
        "З повагою,\nАндрій Мельник\nменеджер, ТОВ «Новий магазин»\n",
    )
    line = desks.ingest("stranger.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="unknown_customer")
    check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to="a.melnyk@novyi-magazyn.test",
        ticket=None,
        says=(
            "Андрій Мельник",
            "нам не вдалося визначити Вашу організацію",
            "з адреси, зазначеної в договорі",
        ),
    )


def test_not_designated_contact_reply_with_quoted_history_names_the_specialist(
    desks: Desks,
) -> None:
    raw = modern(
        PETROV,
        GRSOFT,
        "Fwd: AceTeam не строит отчёт по визитам",
        "Коллеги, добрый день!\n\n"
        "Сергей в отпуске, пишу вместо него. Код проекта: AT-20417. Отчёт по визитам в\n"
        "AceTeam с понедельника строится пустым у всех 8 супервайзеров.\n\n"
        "--\nПетров Алексей\nООО «Ромашка», +7 916 765-43-21\n\n"
        "-------- Пересылаемое сообщение --------\n"
        "От: Иванов Сергей <ivanov@romashka.test>\n"
        "Тема: отчёт по визитам\n\n"
        "> Алексей, если что-то сломается, пиши в GRSoft.\n",
    )
    line = desks.ingest("colleague.eml", raw)

    outcome(line, "quarantined", desk="grsoft", reason="not_designated_contact")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=PETROV[1],
        ticket=None,
        says=(
            "Петров Алексей",
            "Вашей компании (ООО Ромашка) направляет назначенный специалист — ivanov@romashka.test",
            "передайте вопрос специалисту (ivanov@romashka.test)",
        ),
    )


def test_subscription_suspended_outlook_mail_gets_the_suspension_reply(desks: Desks) -> None:
    raw = modern(
        MAX,
        CLEVERBOX,
        "Не открывается отчёт по продажам",
        "Добрый день!\r\n\r\nОтчёт по продажам за ноябрь не открывается, крутится загрузка.\r\n"
        "\r\nС уважением,\r\nMax Berg\r\nBeta LLC\r\n",
        html=(
            '<html><body><div dir="ltr"><p>Добрый день!</p><p>Отчёт по продажам за ноябрь не '
            "открывается, крутится загрузка.</p><p>С уважением,<br>Max Berg<br>Beta LLC</p>"
            "</div></body></html>"
        ),
        headers=(("X-Mailer", "Microsoft Outlook 16.0"),),
    )
    line = desks.ingest("suspended.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="subscription_suspended")
    check_reply(
        desks.reply(line["spool_id"]),
        language="ru",
        to=MAX[1],
        ticket=None,
        says=(
            "Max Berg",
            "Обслуживание Вашей компании (Beta LLC) приостановлено",
            "чаще всего это оплата",
        ),
    )


def test_abusive_language_ukrainian_is_refused_without_quoting_the_word(desks: Desks) -> None:
    raw = modern(
        OLENA,
        CLEVERBOX,
        "Знову не працює склад!!!",
        "Що за лайно ваша CRM?! Третій день не можемо провести жодної накладної на складі,\n"
        "а ви мовчите. Скільки можна чекати?\n\n"
        "Олена Коваль\nТОВ «Вектор»\n",
    )
    line = desks.ingest("abuse.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="abusive_language")
    text = check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket=None,
        says=("у ньому є нецензурні вирази або образи", "надішліть звернення ще раз у коректній"),
    )
    assert "лайно" not in text.lower()
    assert "лайно" not in (line["detail"] or "")


def test_monthly_quota_the_51st_request_of_the_month_is_refused(desks: Desks) -> None:
    assert desks.run("db", "upgrade").exit_code == 0
    engine = Database(desks.url)
    now = system_clock()
    with engine.transaction() as session:
        for n in range(1, 51):
            session.add(
                Ticket(
                    desk="cleverbox",
                    number=f"CBX-9{n:05d}",
                    subject=f"Питання {n}",
                    requester=OLENA[1],
                    customer="ТОВ Вектор",
                    language="uk",
                    received_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    engine.dispose()

    raw = legacy(
        OLENA,
        CLEVERBOX,
        "Як налаштувати воронку продажів",
        "Добрий день!\n\n"
        "Підкажіть, будь ласка, як додати новий етап у воронку продажів, щоб менеджери\n"
        "бачили його на своїй дошці угод?\n\n"
        'Дякую!\nОлена Коваль, ТОВ "Вектор"\n',
        charset="koi8-u",
    )
    line = desks.ingest("quota.eml", raw)

    outcome(line, "quarantined", desk="cleverbox", reason="monthly_quota")
    check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket=None,
        says=(
            "Ваша компанія (ТОВ Вектор) вичерпала місячний ліміт звернень",
            "їх уже 50, а ліміт становить 50",
            "платні додаткові послуги",
        ),
    )


def test_out_of_scope_polish_client_panel_on_own_server_names_the_exclusion(
    desks: Desks,
) -> None:
    raw = legacy(
        JAN,
        SERWISANT,
        "Panel klienta nie działa",
        "Dzień dobry,\n\n"
        "od wczoraj panel kliencki zainstalowany na naszym serwerze nie działa, klienci\n"
        "widzą błąd 500 zamiast statusu naprawy. Co mamy zrobić?\n\n"
        "Pozdrawiam\nJan Kowalski\nAuto-Serwis Kowalski\n\n"
        "W dniu 20.11.2026 o 10:15, Serwisant Online napisał:\n"
        "> Dziękujemy za kontakt z zespołem wsparcia.\n",
        charset="iso-8859-2",
    )
    line = desks.ingest("scope.eml", raw)

    outcome(line, "quarantined", desk="serwisant", reason="out_of_scope")
    check_reply(
        desks.reply(line["spool_id"]),
        language="pl",
        to=JAN[1],
        ticket=None,
        says=(
            "dotyczy ona kwestii „problemy z panelem klienckim zainstalowanym na serwerze lub "
            "hostingu klienta”",
            "W tej sprawie pomoże Państwu: administrator Państwa serwera lub firma hostingowa.",
        ),
    )


NOT_ENTITLED_CASES = {
    "serwisant-basic-plan-training": (
        legacy(
            NOWAK,
            SERWISANT,
            "Szkolenie dla nowych pracowników",
            "Dzień dobry,\n\n"
            "zatrudniliśmy dwóch nowych serwisantów. Chcielibyśmy umówić szkolenie online\n"
            "z obsługi zleceń i magazynu. Kiedy byłby wolny termin?\n\n"
            "Z poważaniem\nAnna Nowak\nElektro-Nowak s.c.\ntel. 33 811 22 33\n",
            charset="iso-8859-2",
        ),
        "pl",
        NOWAK,
        (
            "nie możemy zrealizować usługi „bezpłatne godzinne szkolenie wideo (Google Meet)”",
            "Ta usługa nie jest objęta Państwa planem subskrypcji.",
        ),
    ),
    # Windows-1256 has no Persian yeh: Outlook in Iran writes the Arabic one (ي) instead
    "crmonline-no-package-phone-support-windows-1256": (
        legacy(
            (SARA[0].replace("ی", "ي"), SARA[1]),
            CRMONLINE,
            "درخواست پشتیبانی تلفنی".replace("ی", "ي"),
            (
                "سلام و وقت بخیر\n\n"
                "برای تنظیم گزارش فروش ماهانه نیاز به راهنمایی داریم. لطفاً با من تماس بگیرید.\n"
                "شماره تماس: 021-88776655\n\n"
                "با تشکر\nسارا احمدی\nشرکت پارس داده\n"
            ).replace("ی", "ي"),
            charset="windows-1256",
        ),
        "fa",
        (SARA[0].replace("ی", "ي"), SARA[1]),
        (
            "امکان ارائه خدمت «پشتیبانی تلفنی» به شما وجود ندارد",
            "شرکت شما بسته پشتیبانی ندارد",
        ),
    ),
}


@pytest.mark.parametrize("case", NOT_ENTITLED_CASES)
def test_not_entitled_says_which_service_and_why(desks: Desks, case: str) -> None:
    raw, language, (name, sender), says = NOT_ENTITLED_CASES[case]
    line = desks.ingest(f"{case}.eml", raw)

    desk = "serwisant" if language == "pl" else "crmonline"
    outcome(line, "quarantined", desk=desk, reason="not_entitled")
    reply = desks.reply(line["spool_id"])
    check_reply(reply, language=language, to=sender, ticket=None, says=(name, *says))
    html = reply.get_body(preferencelist=("html",))
    if language == "fa":  # right to left, as a Persian reader expects
        assert html is not None
        content = str(html.get_content())
        assert 'dir="rtl"' in content and "پشتیبانی تلفنی" in content
    else:
        assert html is None


def test_auto_reply_out_of_office_and_bounce_are_dropped_and_never_answered(
    desks: Desks,
) -> None:
    request = desks.ingest(
        "request.eml",
        legacy(
            JAN,
            SERWISANT,
            "Nie wysyłają się SMS-y do klientów",
            "Dzień dobry,\n\nod rana SMS-y z powiadomieniem o zakończeniu naprawy nie\n"
            'dochodzą do klientów, w historii widnieje status "oczekuje".\n\n'
            "Pozdrawiam\nJan Kowalski\n",
            charset="iso-8859-2",
        ),
    )
    outcome(request, "ticket", desk="serwisant", ticket="SRW-000001")
    ack = desks.reply(request["spool_id"])
    before = desks.outbox_count()

    vacation = legacy(
        JAN,
        SERWISANT,
        "Automatyczna odpowiedź: [SRW-000001] Nie wysyłają się SMS-y do klientów",
        "Dzień dobry,\n\njestem na urlopie do 30.11.2026. W pilnych sprawach proszę\n"
        "dzwonić pod numer 42 600 11 22.\n\nJan Kowalski\n",
        charset="iso-8859-2",
        headers=(
            ("Auto-Submitted", "auto-replied"),
            ("X-Autoreply", "yes"),
            ("In-Reply-To", ack["Message-ID"]),
        ),
    )
    bounce = (
        "Return-Path: <>\r\n"
        f"Received: from mx.romashka.test by mx.support.test; {format_datetime(system_clock())}\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.romashka.test>\r\n"
        f"To: {GRSOFT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(system_clock())}\r\n"
        "Message-ID: <20261122.bounce.4711@mx.romashka.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b0un"\r\n'
        "\r\n--b0un\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.romashka.test.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "<old-employee@romashka.test>: user unknown\r\n"
        "\r\n--b0un\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.romashka.test\r\n\r\n"
        "Final-Recipient: rfc822; old-employee@romashka.test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--b0un--\r\n"
    ).encode()

    lines = desks.ingest_many(("vacation.eml", vacation), ("bounce.eml", bounce))
    for line, desk in zip(lines, ("serwisant", "grsoft"), strict=True):
        outcome(line, "dropped", desk=desk, reason="auto_reply")
        assert desks.outbox(line["spool_id"]) == []  # no reply to a machine
    assert desks.outbox_count() == before
    assert [t["number"] for t in desks.json("tickets", "list")] == ["SRW-000001"]


# == annotations ==================================================================================


def test_product_aceteam_napoleon_and_acepacer_in_russian_and_english(desks: Desks) -> None:
    aceteam = modern(
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
    acepacer = modern(
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
    lines = desks.ingest_many(("aceteam.eml", aceteam), ("acepacer.eml", acepacer))

    outcome(lines[0], "ticket", desk="grsoft", ticket="GRS-000001")
    outcome(lines[1], "ticket", desk="grsoft", ticket="GRS-000002")
    assert [line["product"] for line in lines] == ["aceteam", "acepacer"]
    shown = desks.json("tickets", "show", "GRS-000002")
    assert (shown["product"], shown["state"], shown["missing"]) == ("acepacer", "new", [])
    check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="ru",
        to=IVANOV[1],
        ticket="GRS-000001",
        says=("Ваше обращение зарегистрировано под номером GRS-000001", "по московскому времени"),
    )
    check_reply(  # the desk answers English mail in English (reply_language = "mail")
        desks.reply(lines[1]["spool_id"]),
        language="en",
        to="john.miller@fieldforce.test",
        ticket="GRS-000002",
        says=("Your request has been registered as ticket GRS-000002", "Moscow time"),
    )


TYPE_CASES = {
    "incident-html-only": (
        TATRA,
        "Nefunguje tlač faktúr",
        None,
        "<html><head><meta charset='utf-8'></head><body>"
        "<p>Dobrý deň,</p><p>od rána <b>nefunguje</b> tlač faktúr z modulu Predaj, po kliknutí "
        "na Tlačiť sa zobrazí chyba <i>Report engine error</i>.</p>"
        "<p>S pozdravom<br>Jana Kováčová<br>Tatra Logistics s.r.o.</p></body></html>",
        "incident",
    ),
    "change": (
        ("Peter Horváth", "peter.horvath@tatralog.test"),
        "Požiadavka na zmenu tlačovej zostavy dodacieho listu",
        "Dobrý deň,\n\nposielame požiadavku na zmenu: na dodacom liste potrebujeme pridať\n"
        "číslo objednávky zákazníka a hmotnosť zásielky.\n\n"
        "S pozdravom\nPeter Horváth\nvedúci skladu, Tatra Logistics s.r.o.\n",
        None,
        "change",
    ),
    "problem": (
        ("Martin Kollár", "martin.kollar@tatralog.test"),
        "Import bankových výpisov",
        "Dobrý deň,\n\nimport bankových výpisov z Tatra banky opakovane zlyháva, stáva sa to\n"
        "zakaždým na konci mesiaca. Prosíme o zistenie príčiny.\n\n"
        "Ďakujem\nMartin Kollár\n",
        None,
        "problem",
    ),
    "request": (
        ("Zuzana Bieliková", "zuzana.bielikova@tatralog.test"),
        "Otázka k nastaveniu",
        "Dobrý deň,\n\nmám otázku: ako nastaviť predvolený sklad pre nového používateľa\n"
        "v module Nákup?\n\nVďaka\nZuzana Bieliková\n",
        None,
        "request",
    ),
}


def test_type_of_slovak_requests_html_only_included(desks: Desks) -> None:
    mails = []
    for case, (sender, subject, text, html, _kind) in TYPE_CASES.items():
        mails.append((f"{case}.eml", modern(sender, CLOUDEMPIERE, subject, text, html=html)))
    lines = desks.ingest_many(*mails)

    for number, (line, (case, spec)) in enumerate(zip(lines, TYPE_CASES.items(), strict=True), 1):
        sender, subject, _text, _html, kind = spec
        ticket = f"CEM-{number:06d}"
        outcome(line, "ticket", desk="cloudempiere", ticket=ticket)
        assert line["type"] == kind, case
        check_reply(
            desks.reply(line["spool_id"]),
            language="sk",
            to=sender[1],
            ticket=ticket,
            says=(f"zaevidovaná pod číslom {ticket}: „{subject}“", "bratislavského času"),
        )
    assert desks.json("tickets", "show", "CEM-000001")["type"] == "incident"


PRIORITY_CASES = [
    (
        "Celá firma nemôže fakturovať",
        "Dobrý deň,\n\npo dnešnej aktualizácii celá firma nemôže fakturovať, systém pri uložení\n"
        "faktúry spadne. Potrebujeme to vyriešiť ihneď, kamióny čakajú na doklady.\n\n"
        "S pozdravom\nJana Kováčová\nTatra Logistics s.r.o.\n",
        ("high", "high", "P1"),
    ),
    (
        "Nesprávne zobrazenie dátumu",
        "Dobrý deň,\n\niba jeden používateľ v účtovníctve vidí dátumy v zlom formáte na\n"
        "prehľade dokladov. Nie je to urgentné, keď budete mať čas.\n\n"
        "Ďakujem\nJana Kováčová\n",
        ("low", "low", "P4"),
    ),
    (
        "Pomalé načítanie skladu",
        "Dobrý deň,\n\noddelenie skladu hlási, že prehľad zásob sa načítava pomaly. Prosíme\n"
        "o pozretie tento týždeň.\n\nS pozdravom\nJana Kováčová\n",
        ("medium", "medium", "P3"),
    ),
]
"""Subject, text, and the (impact, urgency, priority) the ITIL matrix of the desk gives."""


def test_priority_from_impact_and_urgency_in_slovak_windows_1250(desks: Desks) -> None:
    lines = desks.ingest_many(
        *(
            (f"priority{n}.eml", legacy(TATRA, CLOUDEMPIERE, subject, text, charset="windows-1250"))
            for n, (subject, text, _) in enumerate(PRIORITY_CASES, 1)
        )
    )

    for number, (line, (_, _, expected)) in enumerate(zip(lines, PRIORITY_CASES, strict=True), 1):
        ticket = f"CEM-{number:06d}"
        outcome(line, "ticket", desk="cloudempiere", ticket=ticket)
        assert (line["impact"], line["urgency"], line["priority"]) == expected, ticket
        check_reply(
            desks.reply(line["spool_id"]),
            language="sk",
            to=TATRA[1],
            ticket=ticket,
            says=(f"Vaša požiadavka bola zaevidovaná pod číslom {ticket}",),
        )
    shown = desks.json("tickets", "show", "CEM-000001")
    assert (shown["impact"], shown["urgency"], shown["priority"]) == PRIORITY_CASES[0][2]


def test_category_payments_in_polish_and_not_from_a_signature(desks: Desks) -> None:
    payment = legacy(
        JAN,
        SERWISANT,
        "Podwójne obciążenie karty za abonament",
        "Dzień dobry,\n\n"
        "w tym miesiącu zostaliśmy dwa razy obciążeni za abonament - na wyciągu widzę dwa\n"
        "obciążenia karty po 149 zł z 1 listopada. Proszę o zwrot nadpłaty.\n\n"
        "Pozdrawiam\nJan Kowalski\n\n"
        "-----Oryginalna wiadomość-----\n"
        "Od: Serwisant Online <pomoc@serwisant.test>\n"
        "> Dziękujemy za kontakt.\n",
        charset="iso-8859-2",
    )
    other = legacy(
        JAN,
        SERWISANT,
        "Nie wysyłają się powiadomienia e-mail",
        "Dzień dobry,\n\n"
        "powiadomienia e-mail o zakończeniu naprawy nie wychodzą do klientów od wtorku.\n\n"
        "-- \nJan Kowalski\nAuto-Serwis Kowalski\nDane do faktury: NIP 725-000-00-00\n",
        charset="iso-8859-2",
    )
    lines = desks.ingest_many(("payment.eml", payment), ("other.eml", other))

    outcome(lines[0], "ticket", desk="serwisant", ticket="SRW-000001")
    outcome(lines[1], "ticket", desk="serwisant", ticket="SRW-000002")
    assert [line["category"] for line in lines] == ["payments", None]
    assert desks.json("tickets", "show", "SRW-000001")["category"] == "payments"
    check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="pl",
        to=JAN[1],
        ticket="SRW-000001",
        says=(
            "Zgłoszenie zostało zarejestrowane pod numerem SRW-000001: "
            "„Podwójne obciążenie karty za abonament”",
            "czasu warszawskiego",
        ),
    )


def test_sla_level_emergency_only_with_the_customers_own_valid_coupon(desks: Desks) -> None:
    kyiv_today = today_in("Europe/Kyiv")
    coupon_valid = kyiv_today <= date(2027, 3, 31)
    gamma = legacy(
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
    borrowed = modern(
        OLENA,
        CLEVERBOX,
        "Терміново: не зберігаються угоди",
        "Добрий день!\n\nУгоди не зберігаються, кнопка «Зберегти» не реагує. "
        "Купон CBX7-Q2M9-K4.\n\nОлена Коваль\n",
    )
    # accounting consulting is excluded... unless the customer's emergency contract covers it
    consulting = legacy(
        GAMMA,
        CLEVERBOX,
        "Консультация по складскому учёту",
        "Добрый день!\n\n"
        "Нужна консультация по складскому учету: как правильно провести пересортицу между\n"
        "двумя складами, чтобы себестоимость не поехала?\n\n"
        "--\nДмитрий Гаврилов\nКупон: CBX7-Q2M9-K4\n",
        charset="windows-1251",
    )
    lines = desks.ingest_many(
        ("gamma.eml", gamma), ("borrowed.eml", borrowed), ("consulting.eml", consulting)
    )

    outcome(lines[0], "ticket", desk="cleverbox", ticket="CBX-000001")
    assert lines[0]["sla_level"] == ("emergency" if coupon_valid else "standard")
    outcome(lines[1], "ticket", desk="cleverbox", ticket="CBX-000002")
    assert lines[1]["sla_level"] == "standard"  # another customer's coupon proves nothing
    if coupon_valid:
        outcome(lines[2], "ticket", desk="cleverbox", ticket="CBX-000003")
        assert lines[2]["sla_level"] == "emergency"
    else:
        outcome(lines[2], "quarantined", desk="cleverbox", reason="out_of_scope")
    assert desks.json("tickets", "show", "CBX-000001")["sla_level"] == lines[0]["sla_level"]
    check_reply(
        desks.reply(lines[0]["spool_id"]),
        language="ru",
        to=GAMMA[1],
        ticket="CBX-000001",
        says=("Ваше обращение зарегистрировано под номером CBX-000001", "по киевскому времени"),
    )
    check_reply(
        desks.reply(lines[1]["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket="CBX-000002",
        says=("CBX-000002",),
    )


# == around the rules =============================================================================


def test_release_with_force_turns_a_quarantined_out_of_scope_mail_into_a_ticket(
    desks: Desks,
) -> None:
    raw = modern(
        OLENA,
        CLEVERBOX,
        "Переїзд на інший хостинг",
        "Добрий день!\n\n"
        "Ми переносимо сайт на новий хостинг і хочемо, щоб форма заявок і далі передавала\n"
        "ліди в CleverBox:CRM. Що потрібно налаштувати з нашого боку?\n\n"
        "Олена Коваль\nТОВ «Вектор»\n",
    )
    line = desks.ingest("hosting.eml", raw)
    outcome(line, "quarantined", desk="cleverbox", reason="out_of_scope")
    check_reply(
        desks.reply(line["spool_id"]),
        language="uk",
        to=OLENA[1],
        ticket=None,
        says=(
            "він стосується теми «хостинг, сервери та домени клієнта»",
            "З цим питанням Вам допоможе: фахівці вашого хостинг-провайдера.",
        ),
    )
    [listed] = desks.json("quarantine", "list")
    assert (listed["id"], listed["reason"], listed["from"]) == (
        line["spool_id"],
        "out_of_scope",
        OLENA[1],
    )
    assert desks.run("quarantine", "show", line["spool_id"][:10], "--raw").stdout_bytes == raw

    # the admin agrees the integration is CleverBox's business after all
    released = desks.run(
        "quarantine", "release", line["spool_id"][:10], "--force", "--by", "admin-oksana"
    )
    assert released.exit_code == 0, released.output
    result = json.loads(released.stdout)
    assert (result["outcome"], result["ticket"], result["forced"], result["released_by"]) == (
        "ticket",
        "CBX-000001",
        True,
        "admin-oksana",
    )
    ticket = desks.json("tickets", "show", "CBX-000001")
    assert (ticket["requester"], ticket["customer"], ticket["subject"]) == (
        OLENA[1],
        "ТОВ Вектор",
        "Переїзд на інший хостинг",
    )
    history = desks.json("quarantine", "show", line["spool_id"][:10])
    assert history["state"] == "done"  # out of quarantine, its history still readable
    assert [(e["kind"], e.get("by")) for e in history["events"] if e["kind"] == "released"] == [
        ("released", "admin-oksana")
    ]
    # the customer now gets the acknowledgement of the ticket as well
    replies = desks.outbox(line["spool_id"])
    assert [r["X-Mailbot-Ticket"] for r in replies] == [None, "CBX-000001"]
    check_reply(
        replies[1],
        language="uk",
        to=OLENA[1],
        ticket="CBX-000001",
        says=("CBX-000001",),
    )


def test_past_the_hourly_reply_limit_mail_is_handled_but_not_answered(desks: Desks) -> None:
    mails = [
        (
            f"q{n}.eml",
            modern(
                OLENA,
                CLEVERBOX,
                f"Питання {n}: звіт по менеджеру №{n}",
                f"Добрий день!\n\nНе будується звіт по менеджеру №{n} за листопад, "
                "сторінка довго вантажиться і показує порожню таблицю.\n\nОлена Коваль\n",
            ),
        )
        for n in range(1, 12)
    ]
    lines = desks.ingest_many(*mails)

    assert [line["outcome"] for line in lines] == ["ticket"] * 11
    assert [len(desks.outbox(line["spool_id"])) for line in lines] == [1] * 10 + [0]
    last = desks.json("tickets", "show", lines[-1]["ticket"])
    [suppressed] = [e for e in last["events"] if e["kind"] == "reply_suppressed"]
    assert "rate limit" in suppressed["why"] and suppressed["to"] == OLENA[1]
    assert [r["kind"] for r in last["replies"]] == ["agent_notice"]  # the agents still know


def test_replies_declare_their_language_in_content_language(desks: Desks) -> None:
    line = desks.ingest(
        "uk.eml",
        modern(
            OLENA,
            CLEVERBOX,
            "Не надходять листи з форми на сайті",
            "Добрий день!\n\nЗ учорашнього дня заявки з форми на сайті не потрапляють у "
            "CleverBox:CRM, хоча раніше все працювало.\n\nОлена Коваль\n",
        ),
    )
    outcome(line, "ticket", desk="cleverbox", ticket="CBX-000001")
    reply = desks.reply(line["spool_id"])
    assert text_of(reply).startswith(LANGUAGE_GREETING["uk"])  # it is Ukrainian...
    assert reply["Content-Language"] == "uk"  # ...but the header that says so is gone
