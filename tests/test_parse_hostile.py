"""parse on mail nobody here wrote: undeclared CJK text on a Russian desk, charset labels that
name codecs rather than charsets, mail built to make the parser work for ever, display names
that hide address syntax in encoded words. Issue 10."""

from __future__ import annotations

import base64
import codecs
import json
import re
import time
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

import pytest

from mailbot import parse as parse_mod
from mailbot.charsets import codec_for
from mailbot.parse import Mail, MailTooComplex, header_recipients, parse
from tests.conftest import CORPORA, sent_to, write_config
from tests.servers import mailbot_cli

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# grsoft's ladder and languages (config/desks/grsoft.toml): KOI8-R before windows-1251
RUSSIAN_DESK = {"fallback_charsets": ("utf-8", "koi8-r", "windows-1251"), "languages": ("ru", "en")}


def read(raw: bytes, **kwargs: object) -> Mail:
    options = {**RUSSIAN_DESK, **kwargs}
    return parse(raw, accepted_at=NOW, **options)  # type: ignore[arg-type]


def raw_8bit(subject: str, body: str, charset: str, content_type: str = "") -> bytes:
    """A mail whose subject and body are raw bytes in `charset`, the charset named nowhere."""
    head = b"From: client@example.test\r\nTo: info@grsoft.test\r\nSubject: "
    head += subject.encode(charset) + b"\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n".encode()
    return head + b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode(charset) + b"\r\n"


# -- undeclared 8-bit text ---------------------------------------------------------------------

CJK = [
    ("gb2312", "关于发票的问题", "您好，我们的数据库无法同步，请尽快回复。"),
    ("gb2312", "发票", "谢谢您的帮助"),
    (
        "shift_jis",
        "請求書についてのお問い合わせ",
        "データベースが同期しません。よろしくお願いします。",
    ),
    ("shift_jis", "データベースが同期しません", "至急ご確認ください。"),
]


@pytest.mark.parametrize(("charset", "subject", "body"), CJK)
def test_undeclared_cjk_on_a_russian_desk_is_not_read_as_cyrillic(
    charset: str, subject: str, body: str
) -> None:
    mail = read(raw_8bit(subject, body, charset))
    assert (mail.subject, mail.text) == (subject, body)
    assert any(
        note.startswith("subject: 8-bit text without charset, guessed as") for note in mail.notes
    )


RUSSIAN = [
    ("koi8-r", "Не синхронизируется база", "Добрый день, база не синхронизируется с сервером."),
    ("koi8-r", "Счёт", "Иван"),
    ("windows-1251", "Не синхронизируется база", "Добрый день, база не синхронизируется."),
    ("windows-1251", "Иван Петров", "Счёт на оплату"),
]


@pytest.mark.parametrize(("charset", "subject", "body"), RUSSIAN)
def test_undeclared_russian_still_reads_on_the_russian_desk(
    charset: str, subject: str, body: str
) -> None:
    mail = read(raw_8bit(subject, body, charset))
    assert (mail.subject, mail.text) == (subject, body)
    assert f"subject: 8-bit text without charset, decoded as {charset}" in mail.notes


def test_a_false_us_ascii_declaration_is_guessed_too() -> None:
    raw = raw_8bit("发票", "数据库无法同步", "gb2312", "text/plain; charset=us-ascii")
    mail = read(raw)
    assert mail.text == "数据库无法同步"
    assert any("'us-ascii'" in note and "guessed as gb18030" in note for note in mail.notes)


def test_the_ladder_is_the_last_resort() -> None:
    """Bytes that read as text in no encoding: the desk's first fitting one, as before."""
    noise = bytes(range(0x80, 0x100)) * 2
    raw = b"From: a@example.test\r\nSubject: x\r\n\r\n" + noise
    mail = read(raw)
    assert mail.text == noise.decode("koi8-r").strip()
    assert "part 1: 8-bit text without charset, decoded as koi8-r (no better guess)" in mail.notes


def test_a_desk_whose_ladder_fits_keeps_its_reading() -> None:
    """Polish on a Polish desk: ISO-8859-2 from its ladder, not a detector's Latin cousin."""
    raw = raw_8bit("Zażółć gęślą jaźń", "Dzień dobry, faktura", "iso-8859-2")
    mail = read(raw, fallback_charsets=("utf-8", "iso-8859-2"), languages=("pl",))
    assert (mail.subject, mail.text) == ("Zażółć gęślą jaźń", "Dzień dobry, faktura")


# -- only mail charsets --------------------------------------------------------------------------

NOT_CHARSETS = [
    "punycode", "idna", "unicode-escape", "raw-unicode-escape", "unicode_escape", "rot13",
    "rot_13", "zlib", "base64_codec", "base64", "uu", "hex", "bz2", "quopri", "charmap",
    "undefined", "palmos", "mbcs", "oem",
]  # fmt: skip


@pytest.mark.parametrize("label", NOT_CHARSETS)
def test_a_codec_that_is_no_mail_charset_is_an_unknown_charset(label: str) -> None:
    # each would change this text if it were run: \\u escapes, rot13, 'xn--' punycode, hex
    body = b"uryyb \\u0041 xn--80ak6aa92e 68656c6c6f"
    raw = b"From: a@example.test\r\nContent-Type: text/plain; charset=" + label.encode()
    mail = read(raw + b"\r\n\r\n" + body)
    assert mail.text == body.decode("ascii")
    assert f"part 1: charset {label!r} unknown, decoded as utf-8" in mail.notes


@pytest.mark.parametrize("label", ["utf-7", "koi8-u", "iso-2022-jp", "gb18030", "cp1251", "hz"])
def test_real_mail_charsets_are_honoured(label: str) -> None:
    text = "Привет" if label in ("koi8-u", "cp1251") else "发票 ok"
    if label == "iso-2022-jp":
        text = "請求書"
    raw = b"From: a@example.test\r\nContent-Type: text/plain; charset=" + label.encode()
    mail = read(raw + b"\r\n\r\n" + text.encode(label))
    assert mail.text == text
    assert not mail.notes


def test_a_megabyte_declared_punycode_is_read_as_it_is_in_no_time() -> None:
    """0.96 MB that Python's quadratic punycode decoder took 55 s over (issue 10)."""
    body = ("xn--" + "a" * 70 + "-" + "b" * 4 + "\r\n") * 12_000
    assert 0.9e6 < len(body) < 1e6
    raw = (
        "From: a@example.test\r\nTo: info@grsoft.test\r\nSubject: hi\r\n"
        "Content-Type: text/plain; charset=punycode\r\n\r\n" + body
    ).encode()
    started = time.perf_counter()
    mail = read(raw)
    print(f"\n0.96 MB punycode body parsed in {time.perf_counter() - started:.3f} s")
    assert "part 1: charset 'punycode' unknown, decoded as utf-8" in mail.notes
    assert mail.text.startswith("xn--aaaa") and mail.text.count("xn--") == 12_000


def test_text_decoded_is_capped_per_part() -> None:
    line = "Ещё одна строка журнала ошибок\n"
    body = line * (parse_mod.MAX_DECODE_PART_BYTES // len(line.encode("koi8-r")) + 1000)
    raw = b"From: a@example.test\r\nSubject: log\r\n\r\n" + body.encode("koi8-r")
    mail = read(raw)
    limit = parse_mod.MAX_DECODE_PART_BYTES
    assert f"part 1: {len(body)} bytes of text, only the first {limit} decoded" in mail.notes
    assert set(mail.text.split("\n")[:-1]) == {line.strip()}  # whole lines, all KOI8-R read


def test_text_decoded_is_capped_over_the_whole_mail() -> None:
    part = "x" * (3 * 1024 * 1024) + "\n"
    parts = "".join(
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{part}\r\n" for _ in range(7)
    )
    raw = (
        "From: a@example.test\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        + parts
        + "--b--\r\n"
    ).encode()
    mail = read(raw)
    spent = f"decoding budget of {parse_mod.MAX_DECODE_TOTAL_BYTES} bytes spent"
    assert any(note.endswith(spent) for note in mail.notes)


# -- bounded work ------------------------------------------------------------------------------


def many_parts(count: int) -> bytes:
    head = b"From: a@example.test\r\nTo: info@grsoft.test\r\nSubject: parts\r\n"
    head += b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    return head + b"--b\r\n\r\nx\r\n" * count + b"--b--\r\n"


def nested(depth: int) -> bytes:
    raw = b"From: a@example.test\r\nTo: info@grsoft.test\r\nSubject: nested\r\n"
    for level in range(depth):
        raw += b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (level, level)
    return raw + b"Content-Type: text/plain\r\n\r\ninnermost\r\n"


def test_too_many_parts_stop_the_parse_at_the_limit() -> None:
    counted: list[int] = []
    original = parse_mod._PartCounter.__call__

    def spy(self: parse_mod._PartCounter, policy: object = compat32) -> object:
        counted.append(self.parts)
        return original(self, policy)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_mod._PartCounter, "__call__", spy)
        with pytest.raises(MailTooComplex, match="more than 5000 MIME parts") as caught:
            read(many_parts(20_000))
    assert caught.value.reason == "too_complex"
    assert max(counted) == parse_mod.MAX_MIME_PARTS  # not one part more was built


def test_two_and_a_half_million_parts_are_refused_before_parsing() -> None:
    raw = many_parts(2_500_000)
    started = time.perf_counter()
    with pytest.raises(MailTooComplex, match=r"lines, more than 1000000 \(MAX_LINES\)"):
        read(raw)
    seconds = time.perf_counter() - started
    print(f"\n{len(raw) / 1e6:.1f} MB of 2.5 million parts refused in {seconds:.2f} s")


def test_a_thousand_nested_multiparts_are_too_complex() -> None:
    with pytest.raises(MailTooComplex, match=r"nested deeper than 100 \(MAX_MIME_DEPTH\)"):
        read(nested(1000))


def test_nesting_under_the_hard_limit_still_parses_with_a_note() -> None:
    mail = read(nested(60))
    assert "innermost" not in mail.text
    assert any("nesting deeper than 20" in note for note in mail.notes)


def test_25_mb_of_blank_lines_is_a_mail_with_an_empty_body() -> None:
    """Peak memory: benchmarks/parse_memory.py (1.1 GB before, see docs/fuzzing.md)."""
    raw = b"From: a@example.test\r\nTo: info@grsoft.test\r\nSubject: blank\r\n\r\n"
    raw += b"\r\n" * (25 * 1024 * 1024 // 2)
    mail = read(raw)
    assert (mail.from_addr, mail.subject, mail.text) == ("a@example.test", "blank", "")
    assert header_recipients(raw) == ("info@grsoft.test",)


def test_a_big_single_part_reads_as_before() -> None:
    """The whole-body shortcut gives what the line-by-line parse gave."""
    body = "Строка номер {}\n".format
    text = "".join(body(i) for i in range(80_000))
    raw = (
        b"From: a@example.test\nSubject: big\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: base64\n\n"
    ) + base64.encodebytes(text.encode())
    assert len(raw) > parse_mod.WHOLE_BODY_BYTES
    assert read(raw).text == text[: parse_mod.MAX_TEXT_CHARS].rstrip()


def test_too_complex_mail_is_quarantined_with_the_limit_named(tmp_path: Path) -> None:
    """Through `mailbot ingest`, as an operator feeds files; a good mail behind is a ticket."""
    files = {
        "parts.eml": many_parts(2_500_000),
        "few-parts.eml": many_parts(6_000),
        "nested.eml": nested(1000),
        "good.eml": b"From: olga@example.test\r\nTo: info@grsoft.test\r\nSubject: ok\r\n\r\nhi\r\n",
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", max_size=25 << 20)
    done = mailbot_cli(config, "ingest", "--desk", "grsoft", *(str(tmp_path / n) for n in files))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {Path(x["file"]).name: x for x in map(json.loads, done.stdout.splitlines())}
    for name, limit in [
        ("parts.eml", "MAX_LINES"),
        ("few-parts.eml", "MAX_MIME_PARTS"),
        ("nested.eml", "MAX_MIME_DEPTH"),
    ]:
        assert (lines[name]["outcome"], lines[name]["reason"]) == ("quarantined", "too_complex")
        assert limit in lines[name]["detail"]
    assert lines["good.eml"]["outcome"] == "ticket"
    listed = mailbot_cli(config, "quarantine", "list", "--json")
    assert [q["reason"] for q in json.loads(listed.stdout)] == ["too_complex"] * 3


# -- encoded-word display names ------------------------------------------------------------------

SERVICE = "Служба: поддержка <x@y>"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("=?utf-8?q?Support:_Team?= <a@b.test>", "Support: Team"),
        ("=?UTF-8?Q?Support:?= =?utf-8?q?_Team?= <a@b.test>", "Support: Team"),
        ('"=?utf-8?q?Support:_Team?=" <a@b.test>', "Support: Team"),
        ("=?utf-8?q?a<b@evil.test>?= <a@b.test>", "a<b@evil.test>"),
        ("=?utf-8?q?x@evil.test,_y?= <a@b.test>", "x@evil.test, y"),
        ("=?utf-8?q?group:;?= <a@b.test>", "group:;"),
        (f"=?utf-8?b?{base64.b64encode(SERVICE.encode()).decode()}?= <a@b.test>", SERVICE),
        ("mailbotword0x =?utf-8?q?A:B?= <a@b.test>", "mailbotword0x A:B"),
    ],
)  # fmt: skip
def test_encoded_display_name_with_address_syntax_keeps_the_address(header: str, name: str) -> None:
    raw = f"From: {header}\r\nReply-To: {header}\r\nTo: {header}\r\nSubject: x\r\n\r\nhi\r\n"
    mail = read(raw.encode())
    assert (mail.from_addr, mail.from_name) == ("a@b.test", name)
    assert mail.reply_to == mail.to == ("a@b.test",)
    assert header_recipients(raw.encode()) == ("a@b.test",)


def test_a_colon_in_an_encoded_display_name_gets_the_reply_at_the_real_address(
    tmp_path: Path,
) -> None:
    """Through `mailbot ingest` and the outbound maildir: the acknowledgement goes to the
    sender's address alone, not to a garbage address made of the display name."""
    header = "=?utf-8?q?Support:_Team?= <olga@example.test>"
    raw = f"From: {header}\r\nTo: info@grsoft.test\r\nSubject: x\r\n\r\nhi\r\n".encode()
    (tmp_path / "colon.eml").write_bytes(raw)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    done = mailbot_cli(config, "ingest", "--desk", "grsoft", str(tmp_path / "colon.eml"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["outcome"] == "ticket"
    [reply] = sent_to(config, "olga@example.test")
    assert "Support" not in reply["To"]
    folder = tmp_path / "sent" / "new"
    assert len(list(folder.iterdir())) == 1  # nothing to another address


def test_every_charset_the_corpora_declare_is_honoured() -> None:
    """The allow-list is not too strict: a label Python reads as text is refused only if it
    names one of the codecs that are no mail charsets."""
    if not CORPORA.is_dir():
        pytest.skip(f"no corpora at {CORPORA}")
    labels: set[str] = set()
    for path in CORPORA.rglob("*"):
        if path.is_file():
            found = re.findall(rb'charset="?([A-Za-z0-9_.:-]{1,40})', path.read_bytes(), re.I)
            labels.update(label.decode().lower() for label in found)
    known = 0
    for label in sorted(labels):
        try:
            info = codecs.lookup(label)
        except LookupError:
            continue
        if info.name in {"punycode", "idna", "unicode-escape", "raw-unicode-escape"}:
            continue
        known += 1
        assert codec_for(label) is not None, label
    assert known > 15


def test_charset_guessing_stops_after_a_budget() -> None:
    """Many undeclared CJK parts: 32 are guessed, the rest go down the ladder at ladder speed."""
    body = ("关于发票的问题，请尽快回复。" * 100).encode("gb2312")
    parts = b"".join(
        b"--b\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n" for _ in range(500)
    )
    head = b"From: a@example.test\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n"
    started = time.perf_counter()
    mail = read(head + b"\r\n" + parts + b"--b--\r\n")
    print(f"\n60 undeclared 2.8 KB GB2312 parts parsed in {time.perf_counter() - started:.2f} s")
    guessed = [n for n in mail.notes if n.endswith("guessed as gb18030")]
    assert len(guessed) == parse_mod.MAX_GUESSES
    assert "more than 32 charset guesses: the desk's ladder alone after" in mail.notes
    assert mail.text.startswith("关于发票的问题")


# -- real CJK bytes, undeclared, through `mailbot ingest` ------------------------------------------


def corpus_mail(relative: str) -> bytes:
    path = CORPORA / relative
    if not path.is_file():
        pytest.skip(f"no corpora at {CORPORA}")
    return path.read_bytes()


def real_undeclared_cjk() -> dict[str, tuple[bytes, str, str]]:
    """Two corpus mails re-sent as a careless client sends them: the GB2312 subject of a
    Chinese Outlook Express mail as raw 8-bit bytes (its own bytes, out of the encoded word),
    and a Japanese phone's Shift_JIS mail without its charset, a body line as its subject.
    Each with the text a reader of the original sees."""
    chinese = corpus_mail("mail-parser/mail_test_12.eml")
    word = "=?GB2312?B?tPq/qrj3tdjU9ta1y7C3osax?="
    subject = base64.b64decode(word.split("?")[3])
    chinese = chinese.replace(word.encode(), subject)
    japanese = corpus_mail("ruby-mail/multi_charset_japanese_shift_jis.eml")
    head, body = japanese.split(b"\r\n\r\n", 1)
    japanese_subject = body.split(b"\r\n")[2]
    head = head.replace(b'; charset="Shift_JIS"', b"")
    head = head.replace(b"Subject: test", b"Subject: " + japanese_subject)
    return {
        "chinese.eml": (chinese, subject.decode("gb2312"), ""),
        "japanese.eml": (
            head + b"\r\n\r\n" + body,
            japanese_subject.decode("shift_jis"),
            body.decode("shift_jis").strip(),
        ),
    }


def test_real_undeclared_cjk_mail_reads_right_on_a_russian_desk(tmp_path: Path) -> None:
    """The issue's case as an operator meets it: the mails go in with `mailbot ingest` to a
    desk whose ladder starts with KOI8-R, and `tickets show` reads Chinese and Japanese, not
    Cyrillic."""
    mails = real_undeclared_cjk()
    for name, (raw, _, _) in mails.items():
        (tmp_path / name).write_bytes(raw)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    done = mailbot_cli(config, "ingest", "--desk", "grsoft", *(str(tmp_path / n) for n in mails))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {Path(x["file"]).name: x for x in map(json.loads, done.stdout.splitlines())}
    for name, (_, subject, body) in mails.items():
        assert lines[name]["outcome"] == "ticket", lines[name]
        shown = mailbot_cli(config, "tickets", "show", lines[name]["ticket"], "--json")
        assert shown.returncode == 0, shown.stderr[-2000:]
        ticket = json.loads(shown.stdout)
        assert ticket["subject"] == subject
        assert not re.search("[\u0400-\u04ff]", shown.stdout)
        text = json.dumps(ticket, ensure_ascii=False)
        for line in filter(None, body.splitlines()):
            assert line in text
