"""Attachment rules: `oversized` and `distributive_attachment`, directly and through the pipeline.

Every file here is built in the test from its format's own bytes (a PE header, an OLE
compound file, zips, 7z, tar, a SQLite database), because what the rule must judge is the
content, never the name the customer gave it.
"""

from __future__ import annotations

import bz2
import email.utils
import gzip
import io
import json
import lzma
import random
import shutil
import sqlite3
import struct
import tarfile
import tracemalloc
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import magic
import py7zr
import pytest
from sqlmodel import Session, select

from mailbot import config as config_mod
from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.parse import Mail, parse
from mailbot.rules import Action, Context, History, Thread, Verdict, load_rules
from mailbot.rules._archives import (
    KIND_BOMB,
    KIND_ENCRYPTED,
    KIND_UNINSPECTABLE,
    Inspector,
    Limits,
    ole_root_clsid,
)
from mailbot.rules.distributive_attachment import DistributiveAttachment
from mailbot.rules.oversized import Oversized
from mailbot.service import App
from mailbot.store import OutboxRow
from tests.conftest import REPO, deliver, write_config

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
MIB = 1024 * 1024
MSI_CLSID = "000C1084-0000-0000-C000-000000000046"
WORD_CLSID = "00020906-0000-0000-C000-000000000046"

DESK = DeskSettings(
    name="grsoft",
    title="GRSoft",
    addresses=["info@grsoft.test"],
    language="ru",
    timezone="Europe/Moscow",
    ticket_prefix="GRS",
    rules=["loops", "oversized", "distributive_attachment"],
)

BODY = (
    "Добрый день!\n\n"
    "Проект: Наполеон «Вектор-Юг». После обновления торговые представители не могут "
    "выгрузить заказы, ошибка синхронизации. Касается 12 сотрудников.\n"
    "Прикладываю файлы.\n\n"
    "--\nС уважением,\nИрина Соколова\nООО «Вектор-Юг», +7 861 200-00-00\n\n"
    "> 18.11.2026, 10:02, GRSoft пишет:\n> Пришлите, пожалуйста, базу с устройства.\n"
)


# -- files, built from their formats ---------------------------------------------------------


def pe_bytes() -> bytes:
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 0x80)
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0xE0, 0x102)
    return bytes(dos) + b"PE\x00\x00" + coff + struct.pack("<H", 0x10B) + bytes(0xE0 - 2)


def elf_bytes() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + bytes(8) + struct.pack("<HHI", 2, 0x3E, 1) + bytes(40)


def pdf_bytes(pad: int = 0) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    ]
    text = b"BT /F1 12 Tf 72 770 Td (Schet 42) Tj ET" + b" " * pad
    objects.append(b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * 8 for _ in range(8))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """A 1x1 grey baseline JPEG: one-symbol Huffman tables, one block, DC 0 then EOB."""

    def segment(marker: int, payload: bytes) -> bytes:
        return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload

    return (
        b"\xff\xd8"
        + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + segment(0xDB, b"\x00" + bytes([1] * 64))
        + segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
        + segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")
        + segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
        + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
        + b"\x3f\xff\xd9"
    )


def zip_bytes(entries: list[tuple[str, bytes]], level: int = 6) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return out.getvalue()


def docx_bytes() -> bytes:
    return zip_bytes(
        [
            (
                "[Content_Types].xml",
                b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                b'2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
                b'<Override PartName="/word/document.xml" ContentType="application/vnd.'
                b'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
            ),
            (
                "_rels/.rels",
                b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                b'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                b"openxmlformats.org/officeDocument/2006/relationships/officeDocument"
                b'" Target="word/document.xml"/></Relationships>',
            ),
            (
                "word/document.xml",
                '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Порядок воспроизведения'
                "</w:t></w:r></w:p></w:body></w:document>".encode(),
            ),
        ]
    )


def xlsx_bytes() -> bytes:
    return zip_bytes(
        [
            (
                "[Content_Types].xml",
                b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                b'2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="'
                b'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                b"</Types>",
            ),
            ("xl/workbook.xml", b'<?xml version="1.0"?><workbook/>'),
            ("xl/worksheets/sheet1.xml", b"<worksheet>" + b"<row/>" * 500 + b"</worksheet>"),
        ]
    )


def sqlite_bytes(folder: Path) -> bytes:
    path = folder / f"napoleon-{uuid.uuid4().hex}.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, client TEXT, total REAL)")
        db.executemany(
            "INSERT INTO orders (client, total) VALUES (?, ?)",
            [(f"Клиент {n}", n * 10.5) for n in range(300)],
        )
    db.close()
    return path.read_bytes()


def ole_bytes(clsid: str) -> bytes:
    """An OLE compound file: header, one FAT sector, one directory sector, and a summary
    information stream (libmagic reads it before it names the document's kind)."""
    free, end, fat_sector, none = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    title = b"Installation Database\x00"
    codepage = struct.pack("<IhH", 2, 1252, 0)
    title_prop = struct.pack("<II", 0x1E, len(title)) + title
    title_prop += b"\x00" * (-len(title_prop) % 4)
    section = (
        struct.pack("<II", 24 + len(codepage) + len(title_prop), 2)
        + struct.pack("<IIII", 1, 24, 2, 24 + len(codepage))
        + codepage
        + title_prop
    )
    summary = (
        struct.pack("<HHI", 0xFFFE, 0, 0x00020006)
        + bytes(16)
        + struct.pack("<I", 1)
        + uuid.UUID("F29F85E0-4FF9-1068-AB91-08002B27B3D9").bytes_le
        + struct.pack("<I", 48)
        + section
    )
    stream = summary + bytes(4096 - len(summary))  # not below the mini-stream cutoff
    sectors = len(stream) // 512
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 0x1000, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    fat = [fat_sector, end, *range(3, 2 + sectors), end]
    fat += [free] * (128 - len(fat))

    def entry(
        name: str, kind: int, start: int, size: int, cls: str | None = None, child: int = none
    ) -> bytes:
        raw = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        raw[: len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 0x40, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 0x44, none, none, child)
        if cls:
            raw[0x50:0x60] = uuid.UUID(cls).bytes_le
        struct.pack_into("<IQ", raw, 0x74, start, size)
        return bytes(raw)

    directory = (
        entry("Root Entry", 5, end, 0, clsid, child=1)
        + entry("\x05SummaryInformation", 2, 2, len(summary))
        + entry("", 0, 0, 0) * 2
    )
    return bytes(header) + struct.pack("<128I", *fat) + directory + stream


def apk_bytes() -> bytes:
    return zip_bytes(
        [
            ("AndroidManifest.xml", b"\x03\x00\x08\x00" + bytes(60)),
            ("classes.dex", b"dex\n035\x00" + bytes(100)),
            ("resources.arsc", bytes(64)),
            ("META-INF/CERT.RSA", bytes(32)),
        ]
    )


def seven_zip_bytes(entries: list[tuple[str, bytes]], password: str | None = None) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w", password=password) as archive:
        for name, data in entries:
            archive.writestr(data, name)
    return out.getvalue()


def tar_bytes(entries: list[tuple[str, bytes]], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def encrypted_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """zipfile cannot encrypt; setting the 'encrypted' flag is all a reader ever sees first."""
    data = bytearray(zip_bytes(entries))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            flags = struct.unpack_from("<H", data, at + flag_at)[0]
            struct.pack_into("<H", data, at + flag_at, flags | 0x1)
            at = data.find(signature, at + 4)
    return bytes(data)


# -- mails and contexts ------------------------------------------------------------------------


def mail_bytes(
    attachments: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    *,
    subject: str = "Наполеон: не выгружаются заказы",
    body: str = BODY,
    html: str | None = None,
    enclosed: EmailMessage | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ирина Соколова <irina@vector-yug.test>"
    msg["To"] = "info@grsoft.test"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 20 Nov 2026 12:30:00 +0300"
    msg["Message-ID"] = email.utils.make_msgid(domain="vector-yug.test")
    if html is not None:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(body)
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if enclosed is not None:
        msg.add_attachment(enclosed)
    return msg.as_bytes(policy=policy.SMTP)


def mail_with(*attachments: tuple[str, bytes, str], **kwargs: Any) -> Mail:
    return parse(mail_bytes(list(attachments), **kwargs), accepted_at=NOW)


def context(follow_up: bool = False) -> Context:
    thread = None
    if follow_up:
        thread = Thread(number="GRS-000007", state="open", missing=(), text_so_far="Добрый день!")
    return Context(
        desk=DESK,
        envelope_from="irina@vector-yug.test",
        now=NOW,
        mail_language="ru",
        history=History(thread=thread),
    )


def distributive(**settings: Any) -> DistributiveAttachment:
    return DistributiveAttachment(DistributiveAttachment.Settings(**settings))


def refused(mail: Mail, follow_up: bool = False, **settings: Any) -> Verdict:
    verdict = distributive(**settings).check(mail, context(follow_up))
    assert verdict is not None, "expected a refusal"
    assert (verdict.rule, verdict.action, verdict.reason) == (
        "distributive_attachment",
        Action.refuse,
        "distributive_attachment",
    )
    assert set(verdict.values) == {"file_name", "inner_name", "kind"}
    return verdict


# -- distributive_attachment: what must pass -------------------------------------------------


def test_magic_knows_the_ole_files_built_here() -> None:
    assert "MSI Installer" in magic.from_buffer(ole_bytes(MSI_CLSID))
    assert magic.from_buffer(ole_bytes(WORD_CLSID), mime=True) == "application/vnd.ms-office"
    assert str(ole_root_clsid(ole_bytes(MSI_CLSID))).upper() == MSI_CLSID


def test_documents_databases_and_images_pass(tmp_path: Path) -> None:
    mail = mail_with(
        ("Счёт 42.pdf", pdf_bytes(), "application/pdf"),
        ("экран.png", png_bytes(), "image/png"),
        ("фото.jpg", jpeg_bytes(), "image/jpeg"),
        ("заказы.csv", "id;клиент;сумма\n1;Ромашка;100,50\n".encode(), "text/csv"),
        ("описание.docx", docx_bytes(), "application/octet-stream"),
        ("остатки.xlsx", xlsx_bytes(), "application/vnd.ms-excel"),
        ("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream"),
        ("письмо.doc", ole_bytes(WORD_CLSID), "application/msword"),
        ("sync.log", b"2026-11-20 09:12:01 ERROR sync failed: MZ timeout\n" * 50, "text/plain"),
    )
    assert [a.sniffed_type for a in mail.attachments][:2] == ["application/pdf", "image/png"]
    assert distributive().check(mail, context()) is None


def test_plain_archives_of_documents_pass(tmp_path: Path) -> None:
    documents = [
        ("Документы/счёт.pdf", pdf_bytes()),
        ("Документы/описание.docx", docx_bytes()),
        ("Документы/база/napoleon.db", sqlite_bytes(tmp_path)),
    ]
    mail = mail_with(
        ("документы.zip", zip_bytes(documents), "application/zip"),
        ("документы.7z", seven_zip_bytes(documents), "application/x-7z-compressed"),
        ("logs.tar.gz", tar_bytes(documents, "w:gz"), "application/gzip"),
        ("db.sqlite.xz", lzma.compress(sqlite_bytes(tmp_path)), "application/x-xz"),
        ("report.pdf.bz2", bz2.compress(pdf_bytes()), "application/x-bzip2"),
    )
    assert distributive().check(mail, context()) is None


def test_bytes_that_merely_look_like_a_zip_end_inside_a_pdf_pass() -> None:
    pdf = pdf_bytes() + b"% PK\x05\x06" + bytes(18) + b"\n%%EOF\n"
    assert distributive().check(mail_with(("scan.pdf", pdf, "application/pdf")), context()) is None


def test_a_java_class_file_is_not_a_universal_binary() -> None:
    java_class = b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(64)
    mail = mail_with(("Main.class", java_class, "application/octet-stream"))
    assert distributive().check(mail, context()) is None


# -- distributive_attachment: what is refused -------------------------------------------------


def test_a_pe_renamed_to_pdf_is_refused_and_named() -> None:
    mail = mail_with(("счёт.pdf", pe_bytes(), "application/pdf"))
    verdict = refused(mail)
    assert verdict.values == {
        "file_name": "счёт.pdf",
        "inner_name": None,
        "kind": "Windows executable",
    }
    assert "счёт.pdf" in verdict.detail and "PE header" in verdict.detail
    assert mail.attachments[0].sniffed_type in verdict.detail


def test_an_msi_inside_a_zip_is_refused_naming_the_member() -> None:
    archive = zip_bytes(
        [("readme.txt", b"install me"), ("Napoleon/setup.msi", ole_bytes(MSI_CLSID))]
    )
    verdict = refused(mail_with(("дистрибутив.zip", archive, "application/zip")))
    assert verdict.values == {
        "file_name": "дистрибутив.zip",
        "inner_name": "Napoleon/setup.msi",
        "kind": "MSI installer",
    }
    assert "дистрибутив.zip" in verdict.detail and "Napoleon/setup.msi" in verdict.detail


def test_an_msi_renamed_to_doc_is_refused_but_a_doc_is_not() -> None:
    verdict = refused(mail_with(("договор.doc", ole_bytes(MSI_CLSID), "application/msword")))
    assert verdict.values["kind"] == "MSI installer"


def test_an_elf_in_a_zip_in_a_zip_is_refused_with_its_path() -> None:
    inner = zip_bytes([("bin/agent", elf_bytes())])
    outer = zip_bytes([("docs/manual.pdf", pdf_bytes()), ("tools.zip", inner)])
    verdict = refused(mail_with(("logs.zip", outer, "application/zip")))
    assert verdict.values == {
        "file_name": "logs.zip",
        "inner_name": "tools.zip > bin/agent",
        "kind": "Linux executable",
    }
    assert "tools.zip > bin/agent" in verdict.detail


def test_an_apk_is_refused_under_any_name() -> None:
    verdict = refused(mail_with(("photo.zip", apk_bytes(), "application/zip")))
    assert verdict.values == {
        "file_name": "photo.zip",
        "inner_name": None,
        "kind": "Android package",
    }


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("x.bin", b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + bytes(64), "macOS executable"),
        ("x.bin", b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + bytes(64), "macOS executable"),
        ("x.bin", b"\xed\xab\xee\xdb\x03\x00\x00\x00" + bytes(96), "Linux package"),
        (
            "x.bin",
            b"!<arch>\ndebian-binary   1342943816  0     0     100644  4         `\n2.0\n",
            "Linux package",
        ),
        ("x.bin", bytes(4096) + b"koly" + bytes(508), "macOS disk image"),
        ("x.bin", bytes(0x8001) + b"CD001" + bytes(100), "ISO disk image"),
        (
            "x.zip",
            zip_bytes([("META-INF/MANIFEST.MF", b"Main-Class: A\n"), ("A.class", b"\xca\xfe")]),
            "Java archive",
        ),
        ("x.zip", zip_bytes([("Payload/Napoleon.app/Napoleon", b"")]), "iOS app"),
        ("x.zip", zip_bytes([("AppxManifest.xml", b"<Package/>")]), "Windows installer"),
    ],
)
def test_other_distributive_formats_are_refused(name: str, data: bytes, kind: str) -> None:
    assert refused(mail_with((name, data, "application/octet-stream"))).values["kind"] == kind


def test_executables_inside_7z_tar_and_compressed_streams_are_found() -> None:
    cases = [
        ("tools.7z", seven_zip_bytes([("a.txt", b"hi"), ("bin/setup.exe", pe_bytes())])),
        ("tools.tar", tar_bytes([("pkg/agent", elf_bytes())])),
        ("tools.tgz", tar_bytes([("pkg/agent", elf_bytes())], "w:gz")),
        ("setup.exe.gz", gzip.compress(pe_bytes())),
        ("setup.exe.bz2", bz2.compress(pe_bytes())),
        ("setup.exe.xz", lzma.compress(pe_bytes())),
    ]
    inner = {
        "tools.7z": "bin/setup.exe",
        "tools.tar": "pkg/agent",
        "tools.tgz": "tools.tar > pkg/agent",
        "setup.exe.gz": "setup.exe",
        "setup.exe.bz2": "setup.exe",
        "setup.exe.xz": "setup.exe",
    }
    for name, data in cases:
        verdict = refused(mail_with((name, data, "application/octet-stream")))
        assert verdict.values["inner_name"] == inner[name], name


def test_a_zip_appended_to_a_picture_is_opened() -> None:
    polyglot = jpeg_bytes() + zip_bytes([("setup.exe", pe_bytes())])
    verdict = refused(mail_with(("cat.jpg", polyglot, "image/jpeg")))
    assert verdict.values["inner_name"] == "setup.exe"


def test_an_installer_in_a_forwarded_mail_is_found() -> None:
    forwarded = EmailMessage()
    forwarded["From"] = "admin@vector-yug.test"
    forwarded["Subject"] = "Новая версия"
    forwarded.set_content("Вот установщик.")
    forwarded.add_attachment(
        zip_bytes([("NapoleonSetup.exe", pe_bytes())]),
        maintype="application",
        subtype="zip",
        filename="Napoleon.zip",
    )
    mail = parse(mail_bytes(enclosed=forwarded, subject="Fwd: Новая версия"), accepted_at=NOW)
    assert mail.attachments[0].declared_type == "message/rfc822"
    verdict = refused(mail)
    assert verdict.values["inner_name"] == "Napoleon.zip > NapoleonSetup.exe"
    assert verdict.values["kind"] == "Windows executable"


def test_what_cannot_be_inspected_is_refused_with_its_own_kind() -> None:
    cases = [
        ("secret.zip", encrypted_zip([("setup.pdf", b"x" * 100)]), KIND_ENCRYPTED),
        ("secret.7z", seven_zip_bytes([("a.txt", b"hi")], password="123"), KIND_ENCRYPTED),
        ("archive.rar", b"Rar!\x1a\x07\x01\x00" + bytes(64), KIND_UNINSPECTABLE),
        ("broken.zip", zip_bytes([("a.pdf", pdf_bytes())])[:-30], KIND_UNINSPECTABLE),
        ("broken.gz", gzip.compress(pdf_bytes())[:-8] + bytes(8), KIND_UNINSPECTABLE),
    ]
    for name, data, kind in cases:
        assert refused(mail_with((name, data, "application/octet-stream"))).values["kind"] == kind


def test_follow_ups_are_checked_too() -> None:
    refused(mail_with(("update.zip", zip_bytes([("a.exe", pe_bytes())]), "application/zip")), True)


# -- distributive_attachment: limits -----------------------------------------------------------


@pytest.mark.timeout(60)  # a hang guard; bounded work shows in the memory peak below
def test_a_nested_zip_bomb_is_refused_with_bounded_memory() -> None:
    zeros = zip_bytes([("zeros.bin", bytes(100_000_000))], level=9)
    layer = zip_bytes([(f"{n}.zip", zeros) for n in range(16)], level=9)
    bomb = zip_bytes([(f"{n}.zip", layer) for n in range(16)], level=9)
    del zeros, layer
    mail = mail_with(("отчёт.zip", bomb, "application/zip"))
    tracemalloc.start()
    try:
        verdict = refused(mail)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.values["kind"] == KIND_BOMB
    assert verdict.values["inner_name"] == "0.zip > 0.zip > zeros.bin"
    assert peak < 5 * MIB, f"peak {peak:,} bytes"


def test_archives_nested_deeper_than_max_depth_are_refused_unopened() -> None:
    data = zip_bytes([("setup.txt", b"just text")])
    for level in range(5):
        data = zip_bytes([(f"level{level}.zip", data)])
    verdict = refused(mail_with(("deep.zip", data, "application/zip")))
    assert verdict.values["kind"] == KIND_BOMB and "nested more than 3" in verdict.detail
    assert (
        distributive(max_depth=8).check(mail_with(("deep.zip", data, "application/zip")), context())
        is None
    )


def test_too_many_entries_is_a_bomb() -> None:
    archive = zip_bytes([(f"{n}.txt", b"") for n in range(1001)])
    verdict = refused(mail_with(("many.zip", archive, "application/zip")))
    assert verdict.values["kind"] == KIND_BOMB and "1,001 entries" in verdict.detail
    assert (
        distributive(max_entries=2000).check(
            mail_with(("many.zip", archive, "application/zip")), context()
        )
        is None
    )


def test_unpacked_size_over_the_budget_is_a_bomb() -> None:
    text = random.Random(7).randbytes(2 * MIB)  # does not compress
    archive = zip_bytes([("a.bin", text), ("b.bin", text)])
    verdict = refused(
        mail_with(("big.zip", archive, "application/zip")), max_unpacked_bytes=3 * MIB
    )
    assert verdict.values["kind"] == KIND_BOMB and "over the limit of 3,145,728" in verdict.detail


def test_a_compressed_stream_stops_at_the_ratio_cap() -> None:
    bomb = gzip.compress(bytes(40 * MIB), compresslevel=9)  # ISIZE is honest, ratio is not
    tracemalloc.start()
    try:
        verdict = refused(mail_with(("data.gz", bomb, "application/gzip")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert verdict.values["kind"] == KIND_BOMB and "expands more than 200" in verdict.detail
    assert peak < 20 * MIB


def test_a_zip_lying_about_its_sizes_costs_no_more_than_it_declares() -> None:
    data = bytearray(zip_bytes([("small.txt", bytes(50 * MIB))], level=9))
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)  # uncompressed size: 1,000
    struct.pack_into("<I", data, central + 24, 1000)
    tracemalloc.start()
    try:
        found = Inspector(Limits(3, 1000, 100 * MIB, 200)).inspect(bytes(data), "lie.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found is not None and found.kind == KIND_UNINSPECTABLE  # CRC of the cut data fails
    assert peak < 5 * MIB


def test_settings_are_validated_at_start_up() -> None:
    desk = DESK.model_copy(
        update={
            "rule": {"distributive_attachment": {"max_depht": 2}},
            "rules": ["distributive_attachment"],
        }
    )
    with pytest.raises(ConfigError, match=r"rule\.distributive_attachment\.max_depht: unknown key"):
        load_rules(desk)
    desk = DESK.model_copy(
        update={"rule": {"oversized": {"max_attachment_bytes": 5000, "max_total_bytes": 10}}}
    )
    with pytest.raises(ConfigError, match=r"rule\.oversized\.max_total_bytes: must be at least"):
        load_rules(desk)
    names = [rule.name for rule in load_rules(DESK)]
    assert names == ["loops", "oversized", "distributive_attachment"]


# -- oversized ---------------------------------------------------------------------------------


def oversized(**settings: Any) -> Oversized:
    return Oversized(Oversized.Settings(**settings))


def test_one_attachment_over_the_default_limit_is_refused_by_name() -> None:
    big = bytes(range(256)) * (40 * 1024 + 1)  # 10 MiB + 256 bytes
    mail = mail_with(
        ("napoleon-backup.db", big, "application/octet-stream"),
        ("a.pdf", pdf_bytes(), "application/pdf"),
    )
    verdict = oversized().check(mail, context())
    assert verdict is not None
    assert (verdict.rule, verdict.action, verdict.reason) == (
        "oversized",
        Action.refuse,
        "oversized",
    )
    assert verdict.values == {
        "file_name": "napoleon-backup.db",
        "size_bytes": 10 * MIB + 256,
        "limit_bytes": 10 * MIB,
    }
    assert "napoleon-backup.db" in verdict.detail and "10,485,760" in verdict.detail


def test_the_whole_mail_over_the_total_limit_is_refused_without_a_file_name() -> None:
    mail = mail_with(*[(f"фото{n}.png", png_bytes() + bytes(3000), "image/png") for n in range(4)])
    verdict = oversized(max_attachment_bytes=5000, max_total_bytes=10_000).check(mail, context())
    assert verdict is not None
    assert verdict.values["file_name"] is None
    assert verdict.values["limit_bytes"] == 10_000
    assert verdict.values["size_bytes"] == sum(a.size for a in mail.attachments) + len(
        mail.text.encode()
    )


def test_the_html_body_counts_toward_the_total() -> None:
    html = "<html><body><p>Добрый день!</p>" + "<p>строка журнала</p>" * 2000 + "</body></html>"
    mail = mail_with(html=html)
    verdict = oversized(max_attachment_bytes=1000, max_total_bytes=40_000).check(mail, context())
    assert verdict is not None and verdict.values["file_name"] is None


def test_mail_within_the_limits_passes_and_follow_ups_are_checked() -> None:
    mail = mail_with(("a.pdf", pdf_bytes(), "application/pdf"))
    assert oversized().check(mail, context()) is None
    assert oversized().check(mail, context(follow_up=True)) is None
    small = oversized(max_attachment_bytes=100, max_total_bytes=100_000)
    verdict = small.check(mail, context(follow_up=True))
    assert verdict is not None and verdict.values["file_name"] == "a.pdf"


# -- through the pipeline ----------------------------------------------------------------------

DESK_TOML = """
name = "grsoft"
title = "GRSoft"
addresses = ["info@grsoft.test"]
language = "ru"
timezone = "Europe/Moscow"
ticket_prefix = "GRS"
fallback_charsets = ["utf-8", "koi8-r", "windows-1251"]
rules = ["loops", "oversized", "distributive_attachment"]

[rule.oversized]
max_attachment_bytes = 200_000
max_total_bytes = 300_000

[rule.distributive_attachment]
max_depth = 3
"""

STAND_INS = {
    "oversized": "Файл {{ file_name }}: {{ size_bytes }} > {{ limit_bytes }}\n",
    "distributive_attachment": "Файл {{ file_name }} / {{ inner_name }}: {{ kind }}\n",
}


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    desks = tmp_path / "desks"
    desks.mkdir()
    (desks / "grsoft.toml").write_text(DESK_TOML)
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    for reason, text in STAND_INS.items():
        path = templates / "en" / f"{reason}.txt.j2"
        if not path.exists():  # the real templates are written elsewhere
            path.write_text(text)
    path = write_config(tmp_path, db_url, desks=desks, templates=templates)
    application = App.build(config_mod.load(path, environ={}))
    yield application
    application.db.dispose()


def run(app: App, raw: bytes) -> dict[str, Any]:
    return deliver(app, raw, "info@grsoft.test", "irina@vector-yug.test").as_json()


def reply_text(app: App) -> str:
    with Session(app.db.engine) as session:
        row = session.exec(select(OutboxRow)).one()
    msg = email.message_from_bytes(row.raw, policy=policy.default)
    return str(msg.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


def test_pipeline_quarantines_an_installer_and_says_which_file(app: App) -> None:
    raw = mail_bytes([("счёт.pdf", pe_bytes(), "application/pdf")])
    outcome = run(app, raw)
    assert {k: outcome[k] for k in ("outcome", "reason", "ticket", "missing")} == {
        "outcome": "quarantined",
        "reason": "distributive_attachment",
        "ticket": None,
        "missing": [],
    }
    assert "счёт.pdf" in outcome["detail"] and "Windows executable" in outcome["detail"]
    assert app.spool.read(outcome["spool_id"]) == raw  # kept whole for a human
    assert "счёт.pdf" in reply_text(app)  # whichever template: it names the file


def test_pipeline_quarantines_an_oversized_mail(app: App) -> None:
    big = bytes(range(256)) * 1000
    outcome = run(app, mail_bytes([("база.db", big, "application/octet-stream")]))
    assert (outcome["outcome"], outcome["reason"], outcome["ticket"]) == (
        "quarantined",
        "oversized",
        None,
    )
    assert "база.db" in reply_text(app)


def test_pipeline_opens_a_ticket_for_documents_and_a_database(app: App, tmp_path: Path) -> None:
    raw = mail_bytes(
        [
            ("описание.docx", docx_bytes(), "application/octet-stream"),
            ("napoleon.db", sqlite_bytes(tmp_path), "application/octet-stream"),
            ("документы.zip", zip_bytes([("a.pdf", pdf_bytes())]), "application/zip"),
        ]
    )
    outcome = run(app, raw)
    assert (outcome["outcome"], outcome["reason"], outcome["ticket"]) == (
        "ticket",
        None,
        "GRS-000001",
    )
    assert json.loads(json.dumps(outcome))["missing"] == []
