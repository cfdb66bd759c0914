"""parse: what a desk sees of a mail, from clean mail to hostile bytes and the real corpora."""

from __future__ import annotations

import base64
import os
import pickle
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.errors import UnparseableMail
from mailbot.parse import Mail, header_recipients, parse

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RUSSIAN = ("utf-8", "koi8-r", "windows-1251")
POLISH = ("utf-8", "iso-8859-2")


def read(
    raw: bytes,
    *,
    arrival_from_headers: bool = False,
    fallback_charsets: tuple[str, ...] = ("utf-8", "windows-1252"),
) -> Mail:
    return parse(
        raw,
        accepted_at=NOW,
        arrival_from_headers=arrival_from_headers,
        fallback_charsets=fallback_charsets,
    )


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("ascii")


def flat(text: str) -> str:
    return " ".join(text.split())


def corpus(name: str) -> bytes:
    path = CORPORA / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not present (see /work/shared/corpora/README.md)")
    return path.read_bytes()


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def pe_bytes() -> bytes:
    """A minimal PE32 image: DOS stub pointing at a PE signature, COFF and optional header."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 64)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    optional = struct.pack("<HBB", 0x10B, 14, 0) + bytes(0xE0 - 4)
    return bytes(dos) + coff + optional + bytes(512)


def with_attachment(content: bytes, content_type: str, disposition: str | bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Customer <c@example.com>"
    msg["To"] = "support@desk.example"
    msg["Subject"] = "see attached"
    msg.set_content("Please look at the file.\n")
    maintype, subtype = content_type.split("/")
    msg.add_attachment(content, maintype=maintype, subtype=subtype, filename="placeholder")
    raw = msg.as_bytes(policy=SMTP)
    old = b'Content-Disposition: attachment; filename="placeholder"'
    assert old in raw
    if isinstance(disposition, str):
        disposition = disposition.encode("utf-8")
    return raw.replace(old, disposition)


# -- clean mail ---------------------------------------------------------------------------


def test_plain_utf8_mail() -> None:
    raw = (
        (
            "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <Juergen@Example.COM>\n"
            "To: Support <support@desk.example>, other@example.org\n"
            "Cc: boss@example.com, SUPPORT@desk.example\n"
            "Reply-To: replies@example.com\n"
            "Subject: Printer on fire\n"
            "Message-ID: <abc.123@mail.example.com>\n"
            "Date: Tue, 30 Apr 2024 10:15:00 +0200\n"
            "Auto-Submitted: no\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "\n"
            "Grüße, the printer in room 4 is on fire.\n"
        )
        .replace("\n", "\r\n")
        .encode("utf-8")
    )
    mail = read(raw)
    assert mail.from_addr == "juergen@example.com"
    assert mail.from_name == "Jürgen Müller"
    assert mail.to == ("support@desk.example", "other@example.org")
    assert mail.cc == ("boss@example.com", "support@desk.example")
    assert mail.reply_to == ("replies@example.com",)
    assert mail.subject == "Printer on fire"
    assert mail.message_id == "<abc.123@mail.example.com>"
    assert mail.date == datetime(2024, 4, 30, 8, 15, tzinfo=UTC)
    assert mail.text == "Grüße, the printer in room 4 is on fire."
    assert mail.html is None
    assert mail.attachments == ()
    assert mail.header("AUTO-SUBMITTED") == "no"
    assert mail.header("x-missing") == ""
    assert mail.headers["to"] == ("Support <support@desk.example>, other@example.org",)
    assert mail.notes == ()


def test_encoded_comma_in_display_name_does_not_split_the_address() -> None:
    raw = crlf(
        "From: =?utf-8?q?Doe=2C_J=C3=B6rg?= <J@Example.com>\nTo: x@a.example, X@A.example\n\nb\n"
    )
    mail = read(raw)
    assert (mail.from_name, mail.from_addr) == ("Doe, Jörg", "j@example.com")
    assert mail.to == ("x@a.example",)


def test_mail_survives_pickling_for_worker_processes() -> None:
    raw = with_attachment(
        png_bytes(), "image/png", 'Content-Disposition: attachment; filename="a.png"'
    )
    mail = read(raw)
    assert pickle.loads(pickle.dumps(mail)) == mail


def test_sender_stands_in_for_a_missing_from() -> None:
    mail = read(crlf("Sender: =?utf-8?q?Bot?= <Bot@Example.com>\nTo: a@b.example\n\nbody\n"))
    assert (mail.from_addr, mail.from_name) == ("bot@example.com", "Bot")


def test_loop_headers_are_readable() -> None:
    raw = (
        b"From: MAILER-DAEMON@example.com\r\nReturn-Path: <>\r\n"
        b"Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\n"
        b"List-Id: Support list\r\n <support.lists.example.com>\r\n"
        b"X-Autoreply: yes\r\nX-Autoreply: again\r\n\r\nout of office\r\n"
    )
    mail = read(raw)
    assert mail.header("return-path") == "<>"
    assert mail.header("Auto-Submitted") == "auto-replied"
    assert mail.header("list-id") == "Support list <support.lists.example.com>"
    assert mail.headers["x-autoreply"] == ("yes", "again")


def test_multipart_alternative_prefers_text_over_html() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "alt"
    msg.set_content("The plain words.\n")
    msg.add_alternative("<html><body><p>The <b>HTML</b> words.</p></body></html>", subtype="html")
    mail = read(bytes(msg))
    assert mail.text == "The plain words."
    assert mail.html is not None and "<b>HTML</b>" in mail.html
    assert mail.attachments == ()


def test_html_only_mail_gets_text_from_html() -> None:
    raw = crlf(
        "From: a@example.com\n"
        "Subject: html only\n"
        "Content-Type: text/html; charset=us-ascii\n"
        "\n"
        "<html><head><style>p {color: red}</style><script>var x = 1;</script></head>"
        "<body><p>Hello <b>desk</b>,</p><p>my order&nbsp;#42 &amp; invoice.</p></body></html>\n"
    )
    mail = read(raw)
    assert "<" not in mail.text and "color" not in mail.text and "var x" not in mail.text
    assert flat(mail.text) == "Hello desk, my order #42 & invoice."
    assert mail.html is not None and mail.html.startswith("<html>")


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("=?UTF-8?B?0J/RgNC40LLQtdGCLCDQvNC40YAh?=", "Привет, мир!"),
        ("=?utf-8?Q?Caf=C3=A9_cr=C3=A8me?=", "Café crème"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?KOI8-R?Q?=F0=D2=C9=D7=C5=D4?= again", "Привет again"),
        # one UTF-8 character split over two encoded words, as many mailers do
        ("=?utf-8?B?0J8=?= =?utf-8?B?0YDQuA==?=", "При"),
        ("Re: =?iso-8859-1?q?=E9t=E9?= report", "Re: été report"),
    ],
)
def test_rfc2047_subjects(encoded: str, expected: str) -> None:
    mail = read(crlf(f"From: a@example.com\nSubject: {encoded}\n\nbody\n"))
    assert mail.subject == expected
    assert mail.notes == ()


def test_folded_subject_is_one_line() -> None:
    mail = read(crlf("From: a@example.com\nSubject: a long\n\tsubject\n  folded\n\nbody\n"))
    assert mail.subject == "a long subject folded"


# -- charsets -----------------------------------------------------------------------------

RUSSIAN_SUBJECT = "Не работает принтер"
RUSSIAN_BODY = "Здравствуйте! Принтер в бухгалтерии не печатает."


def russian_mail(content_type: str) -> bytes:
    head = f"From: ivan@example.ru\r\nTo: support@desk.example\r\n{content_type}"
    return (
        head.encode("ascii")
        + b"Subject: "
        + RUSSIAN_SUBJECT.encode("koi8-r")
        + b"\r\n\r\n"
        + RUSSIAN_BODY.encode("koi8-r")
        + b"\r\n"
    )


def test_koi8r_raw_8bit_without_charset_reads_as_cyrillic() -> None:
    mail = read(russian_mail(""), fallback_charsets=RUSSIAN)
    assert mail.subject == RUSSIAN_SUBJECT
    assert mail.text == RUSSIAN_BODY
    assert any("koi8-r" in note for note in mail.notes)


def test_koi8r_with_wrong_declared_charset_reads_as_cyrillic() -> None:
    raw = russian_mail("Content-Type: text/plain; charset=utf-8\r\n")
    mail = read(raw, fallback_charsets=RUSSIAN)
    assert mail.subject == RUSSIAN_SUBJECT
    assert mail.text == RUSSIAN_BODY
    assert any("'utf-8'" in note and "koi8-r" in note for note in mail.notes)


def test_unknown_charset_3d_utf8_is_decoded_and_noted() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: x\r\n"
        b"Content-Type: text/plain; charset=3Dutf-8\r\n\r\n" + "Ça marche très bien.".encode()
    )
    mail = read(raw)
    assert mail.text == "Ça marche très bien."
    assert any("3dutf-8" in note.lower() and "unknown" in note for note in mail.notes)


def test_undecodable_bytes_are_replaced_and_noted() -> None:
    raw = b"From: a@example.com\r\nSubject: caf\xe9 \x81\r\n\r\nbody\r\n"
    mail = read(raw, fallback_charsets=("utf-8", "ascii"))
    assert mail.subject == "caf\ufffd \ufffd"
    assert any(note.startswith("subject:") and "replaced" in note for note in mail.notes)


def test_bytes_to_bytes_codec_is_never_used_as_charset() -> None:
    payload = zlib.compress(b"secret " * 1000)
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=zlib\r\n\r\n" + payload
    mail = read(raw)
    assert "secret" not in mail.text
    assert any("'zlib' unknown" in note for note in mail.notes)


def test_windows_1251_mail() -> None:
    text = "Добрый день, счёт №15 оплачен."
    raw = (
        b"From: =?windows-1251?B?"
        + base64.b64encode("Пётр".encode("cp1251"))
        + b"?= <petr@example.ru>\r\nSubject: =?windows-1251?Q?=D1=F7=B8=F2?=\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text.encode("cp1251")
    )
    mail = read(raw)
    assert mail.from_name == "Пётр"
    assert mail.subject == "Счёт"
    assert mail.text == text
    assert mail.notes == ()


def test_polish_iso_8859_2_mail() -> None:
    subject = "Zażółć gęślą jaźń"
    body = "Dzień dobry, proszę o fakturę."
    raw = (
        b"From: a@example.pl\r\nSubject: " + subject.encode("iso-8859-2") + b"\r\n"
        b"Content-Type: text/plain\r\n\r\n" + body.encode("iso-8859-2")
    )
    mail = read(raw, fallback_charsets=POLISH)
    assert mail.subject == subject
    assert mail.text == body


# -- attachments --------------------------------------------------------------------------


def test_executable_renamed_pdf_is_sniffed() -> None:
    raw = with_attachment(
        pe_bytes(), "application/pdf", 'Content-Disposition: attachment; filename="invoice.pdf"'
    )
    (attachment,) = read(raw).attachments
    assert attachment.filename == "invoice.pdf"
    assert attachment.declared_type == "application/pdf"
    assert attachment.sniffed_type != "application/pdf"
    assert attachment.sniffed_type in (
        "application/x-dosexec",
        "application/vnd.microsoft.portable-executable",
        "application/x-msdownload",
    )
    assert attachment.content == pe_bytes()
    assert attachment.size == len(pe_bytes())


def test_png_attachment() -> None:
    raw = with_attachment(
        png_bytes(), "image/png", 'Content-Disposition: inline; filename="dot.png"'
    )
    mail = read(raw)
    (attachment,) = mail.attachments
    assert (attachment.filename, attachment.declared_type) == ("dot.png", "image/png")
    assert attachment.sniffed_type == "image/png"
    assert attachment.content == png_bytes()
    assert mail.text == "Please look at the file."


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('attachment; filename="../../etc/passwd"', "passwd"),
        ('attachment; filename="C:\\\\Windows\\\\evil.exe"', "evil.exe"),
        ('attachment; filename="a\x07b\u202egpj.exe"', "abgpj.exe"),
        ('attachment; filename=".."', "attachment-1"),
        ("attachment", "attachment-1"),
        ("attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20v2.pdf", "отчёт v2.pdf"),
        ("attachment; filename*=iso-8859-1'de'M%FCller.txt", "Müller.txt"),
        ('attachment; filename="=?utf-8?B?0YHRh9GR0YIucGRm?="', "счёт.pdf"),
    ],
)
def test_attachment_filenames(disposition: str, expected: str) -> None:
    raw = with_attachment(b"%PDF-1.4\n", "application/pdf", f"Content-Disposition: {disposition}")
    (attachment,) = read(raw).attachments
    assert attachment.filename == expected


def test_raw_8bit_filename_goes_through_the_charset_ladder() -> None:
    raw = with_attachment(
        b"data",
        "application/octet-stream",
        b'Content-Disposition: attachment; filename="' + "счёт.txt".encode("koi8-r") + b'"',
    )
    (attachment,) = read(raw, fallback_charsets=RUSSIAN).attachments
    assert attachment.filename == "счёт.txt"


def test_enclosed_message_is_an_attachment_not_body() -> None:
    inner = EmailMessage()
    inner["From"] = "x@example.com"
    inner["Subject"] = "Original/complaint"
    inner.set_content("forwarded words\n")
    outer = EmailMessage()
    outer["From"] = "a@example.com"
    outer["Subject"] = "Fwd: complaint"
    outer.set_content("See below.\n")
    outer.add_attachment(inner)
    mail = read(bytes(outer))
    assert mail.text == "See below."
    (attachment,) = mail.attachments
    assert attachment.declared_type == "message/rfc822"
    assert attachment.filename == "complaint.eml"
    assert b"forwarded words" in attachment.content


# -- received_at, dates and threading -----------------------------------------------------

TRACED = crlf(
    "Received: from mx2.example.net by mx.desk.example; Wed, 1 May 2024 09:30:00 +0000\n"
    "Received: from client by mx2.example.net; Wed, 1 May 2024 09:29:00 +0000\n"
    "From: a@example.com\n"
    "Date: Wed, 1 May 2024 11:28:00 +0200\n"
    "\n"
    "body\n"
)


def test_received_at_from_topmost_received_header() -> None:
    mail = read(TRACED, arrival_from_headers=True)
    assert mail.received_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert mail.received_at.utcoffset() == timedelta(0)
    assert mail.date == datetime(2024, 5, 1, 9, 28, tzinfo=UTC)


def test_received_at_skips_undated_received_and_falls_back_to_date() -> None:
    raw = crlf(
        "Received: from somewhere by nowhere\n"
        "Received: by x; not a date at all\n"
        "From: a@example.com\n"
        "Date: Wed, 1 May 2024 11:28:00 +0200\n\nbody\n"
    )
    mail = read(raw, arrival_from_headers=True)
    assert mail.received_at == datetime(2024, 5, 1, 9, 28, tzinfo=UTC)


def test_received_at_falls_back_to_accepted_at() -> None:
    accepted = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    mail = parse(
        crlf("From: a@example.com\nDate: garbage\n\nbody\n"),
        accepted_at=accepted,
        arrival_from_headers=True,
    )
    assert mail.date is None
    assert mail.received_at == accepted
    assert mail.received_at.tzinfo is UTC


def test_received_at_is_accepted_at_for_smtp() -> None:
    mail = read(TRACED)
    assert mail.received_at == NOW
    assert mail.received_at.tzinfo is UTC


def test_naive_accepted_at_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse(TRACED, accepted_at=datetime(2024, 5, 1, 12, 0))


def test_threading_ids() -> None:
    raw = crlf(
        "From: a@example.com\n"
        "Message-ID: bare-id@host.example\n"
        "In-Reply-To: <parent@host.example> (Joe's message of yesterday)\n"
        "References: <root@host.example>\n"
        "  <mid@host.example> <parent@host.example>\n"
        "\nbody\n"
    )
    mail = read(raw)
    assert mail.message_id == "<bare-id@host.example>"
    assert mail.in_reply_to == ("<parent@host.example>",)
    assert mail.references == (
        "<root@host.example>",
        "<mid@host.example>",
        "<parent@host.example>",
    )


# -- hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"\x00" + os.urandom(4096)])
def test_no_header_fields_is_unparseable(raw: bytes) -> None:
    with pytest.raises(UnparseableMail, match="no header"):
        read(raw)


def test_huge_header_value_is_capped_and_noted() -> None:
    raw = b"From: a@example.com\r\nSubject: " + b"x" * 200_000 + b"\r\n\r\nbody\r\n"
    mail = read(raw)
    assert len(mail.subject) == 64 * 1024
    assert mail.text == "body"
    assert any("subject" in note and "cut" in note for note in mail.notes)


def test_deep_nesting_and_many_parts_are_limited() -> None:
    deep = b"From: a@example.com\r\n"
    for level in range(60):
        deep += f"Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n".encode()
    deep += b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    mail = read(deep)
    assert "innermost" not in mail.text
    assert any("nesting" in note for note in mail.notes)

    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\np%d\r\n" % i for i in range(700))
    many = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    mail = read(many + parts + b"--b--\r\n")
    assert "p0" in mail.text and "p600" not in mail.text
    assert any("500 MIME parts" in note for note in mail.notes)


def test_header_block_with_bom_is_repaired() -> None:
    mail = read(b"\xef\xbb\xbfFrom: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n")
    assert (mail.from_addr, mail.subject, mail.text) == ("a@example.com", "hi", "body")
    assert any("repaired" in note for note in mail.notes)


def test_header_recipients() -> None:
    raw = crlf(
        "Delivered-To: support@desk.example\n"
        "To: =?utf-8?q?Desk?= <Support@Desk.example>, nobody\n"
        "Cc: other@example.com\n"
        "X-Original-To: alias@desk.example\n"
        "\nbody\n"
    )
    assert header_recipients(raw) == (
        "support@desk.example",
        "other@example.com",
        "alias@desk.example",
    )
    assert header_recipients(b"\x00\xff garbage") == ()
    assert header_recipients(b"") == ()


# -- real corpora -------------------------------------------------------------------------


def test_corpus_koi8r_mail() -> None:
    mail = read(corpus("mimekit/tnef__ukr.eml"))
    assert mail.text.startswith("шостий")
    (attachment,) = mail.attachments
    assert attachment.filename == "winmail.dat"
    assert attachment.declared_type == "application/ms-tnef"


def test_corpus_cp1251_mail() -> None:
    mail = read(corpus("imap_tools/attachment_8bit.eml"))
    assert "отдел расписания" in mail.text
    assert mail.from_addr == "k1@yandex.ru"


@pytest.mark.timeout(60)  # a hang guard: an unbounded recursion would never return
def test_corpus_recursion_bomb_is_contained() -> None:
    raw = corpus("flanker/enclosed-endless.eml")
    try:
        mail = read(raw)
    except UnparseableMail:
        pass
    else:
        assert mail.text == "Hello"
        assert [a.declared_type for a in mail.attachments] == ["message/rfc822"]
        assert mail.notes


def test_corpus_hostile_address_list_does_not_blow_the_stack() -> None:
    mail = read(corpus("mimekit/messages__stack-overflow.txt"))
    assert mail.from_addr == "test@test.com"
    assert mail.subject == "Message Subject"


def test_every_corpus_file_parses_or_is_refused() -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora folder {CORPORA} absent; see /work/shared/corpora/README.md")
    files = [
        p
        for p in sorted(CORPORA.rglob("*"))
        if p.is_file() and p.name != "README.md" and "mimekit-mbox" not in p.parts
    ]
    assert len(files) > 400
    parsed = 0
    for path in files:
        try:
            mail = read(path.read_bytes(), arrival_from_headers=True)
        except UnparseableMail as exc:
            assert str(exc), path
        else:
            assert isinstance(mail, Mail), path
            assert mail.received_at.tzinfo is UTC, path
            parsed += 1
    assert parsed > 400


# -- properties ---------------------------------------------------------------------------

MAIL_FRAGMENTS = st.sampled_from(
    [
        b"From: a@example.com\r\n",
        b"To: b@example.com, =?utf-8?q?x?= <c@d>\r\n",
        b"Subject: =?koi8-r?B?8NLJ18XU?=\r\n",
        b"Subject: \xf0\xd2\xc9\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; charset=x-bogus\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%FF%00\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Date: Mon, 31 Feb 2024 25:61:00 +9999\r\n",
        b"Received: x; Mon, 1 Jan 2024 10:00:00 +0000\r\n",
        b"\r\n",
        b"--x\r\n",
        b"--x--\r\n",
        b"=?utf-8?b?????=\r\n",
        b" continued\r\n",
    ]
)
MAILISH = st.builds(
    lambda parts, tail: b"".join(parts) + tail,
    st.lists(MAIL_FRAGMENTS, max_size=30),
    st.binary(max_size=200),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000), MAILISH), st.booleans())
def test_any_bytes_give_a_mail_or_unparseable(raw: bytes, from_headers: bool) -> None:
    try:
        mail = read(raw, arrival_from_headers=from_headers)
    except UnparseableMail:
        return
    assert mail.received_at.tzinfo is UTC
    assert mail.date is None or mail.date.tzinfo is UTC


PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufeff")


@settings(max_examples=150, deadline=None)
@given(
    st.text(PRINTABLE, max_size=120),
    st.text(st.one_of(PRINTABLE, st.just("\n")), max_size=400),
)
def test_wellformed_mail_round_trips(subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@example.com>"
    msg["To"] = "support@desk.example"
    msg["Subject"] = subject
    msg.set_content(body)
    mail = read(msg.as_bytes(policy=SMTP))
    assert flat(mail.subject) == flat(subject)
    assert flat(mail.text) == flat(body)
    assert mail.from_addr == "sender@example.com"


OFFSETS = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1980, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.builds(timezone, OFFSETS),
    ),
    st.text(max_size=60),
    st.booleans(),
)
def test_received_at_is_aware_utc(accepted: datetime, date_header: str, from_headers: bool) -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    raw = msg.as_bytes() + b"body\n"
    raw = b"Date: " + " ".join(date_header.split()).encode("utf-8") + b"\n" + raw
    mail = parse(raw, accepted_at=accepted, arrival_from_headers=from_headers)
    assert mail.received_at.utcoffset() == timedelta(0)
    if not from_headers:
        assert mail.received_at == accepted
