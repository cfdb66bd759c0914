"""Reply subjects decode to exactly the text we meant, in all six languages, however they fold.

CPython 3.11's own folding of a Subject (policy.SMTP) may end an encoded word just before a
space and fold there; a reader drops whitespace between encoded words, so "по продажах"
arrived as "попродажах" in 4 of 44 replies. Every reply here goes out as the outbox writes it
(`as_bytes(policy=policy.SMTP)`) and is read back the two ways readers do.
"""

from __future__ import annotations

import email
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.replies import Renderer, sample_values, tagged_subject
from tests.conftest import REPO
from tests.helpers import NOW, desk

DESK = desk()
RENDERER = Renderer(REPO / "templates")
NUMBER = "CBX-000042"

LONG_SUBJECTS = {
    "en": "Invoices printed from the sales module lose their totals after the last update",
    "pl": "Zażółć gęślą jaźń: wydruk faktur sprzedaży z zeszłego miesiąca nie działa poprawnie",
    "sk": "Problém s exportom faktúr do účtovníctva, nefunguje tlač dokladov ani náhľad, žiaľ",
    "ru": "Вопрос по продажах и отчётам за прошлый квартал, не работает экспорт в Excel",
    "uk": "Питання щодо звітів по продажах за минулий місяць: не працює друк накладних",
    "fa": "سوال درباره فاکتورهای فروش ماه گذشته و چاپ آنها که کار نمی‌کند، لطفا راهنمایی کنید",
}
MIXED = [
    "Ошибка 1С: Error 0x80004005 при обмене с CRM (модуль «Склад»), см. скрин 😀",
    "Faktura FV/2026/11/0042 — CRM показывает 0,00 zł ale w PDF jest 123,45 zł 🧾🧾",
    "گزارش فروش Q3 در CRM نسخه 2.4.1 باز نمی‌شود — Error 500 on /reports/sales",
    "  пробелы   внутри    темы  и   на краях  ",
    "=?utf-8?q?looks_encoded?= but is the customer's text, with Cyrillic: ж",
    "a,b,c;d,e,f;g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
    "x" * 120 + " очень длинное слово впереди",
    ") Ó",  # Header joins `)` and an encoded word without a space (found by hypothesis)
    "(CRM) ( модуль \\ склад",
]


def _sent(number: str | None, subject: str, language: str = "ru") -> bytes:
    reply = RENDERER.reply(
        desk=DESK,
        language=language,
        event="ack",
        number=number,
        to="olena@vector.test",
        subject=subject,
        in_reply_to="<m1@vector.test>",
        references=[],
        message_id="<CBX-000042.ack.1@cleverbox.test>",
        values=sample_values(DESK),
        now=NOW,
    )
    return reply.as_bytes(policy=policy.SMTP)


def _subject_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(i for i, line in enumerate(head) if line.startswith(b"Subject:"))
    end = start + 1
    while end < len(head) and head[end][:1] in (b" ", b"\t"):
        end += 1
    return head[start:end]


def _assert_round_trip(raw: bytes, expected: str) -> None:
    """What a modern reader (policy.default) and a legacy one (email.header) both show."""
    assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == expected
    folded = email.message_from_bytes(raw, policy=policy.compat32)["Subject"]
    unfolded = "".join(folded.splitlines())
    assert str(make_header(decode_header(unfolded))) == expected
    lines = _subject_lines(raw)
    assert all(line.isascii() and len(line) <= 78 for line in lines), lines


def test_the_reported_subject_keeps_its_spaces_wherever_the_fold_falls() -> None:
    """The issue's case: every position of the fold, by shifting the text one letter at a time."""
    for shift in range(40):
        subject = f"{'я' * shift} {LONG_SUBJECTS['ru']}".strip()
        raw = _sent(NUMBER, subject)
        assert len(_subject_lines(raw)) > 1  # long enough to fold
        _assert_round_trip(raw, f"[{NUMBER}] {subject}")


@pytest.mark.parametrize("language", sorted(LONG_SUBJECTS))
def test_long_subjects_in_six_languages_round_trip(language: str) -> None:
    for repeat in (1, 2, 3):
        subject = " ".join([LONG_SUBJECTS[language]] * repeat)
        raw = _sent(NUMBER, subject, language)
        _assert_round_trip(raw, f"[{NUMBER}] {subject}")
        assert _subject_lines(raw)[0].startswith(f"Subject: [{NUMBER}] ".encode())


@pytest.mark.parametrize("subject", MIXED)
def test_mixed_scripts_emoji_and_odd_text_round_trip(subject: str) -> None:
    raw = _sent(NUMBER, subject)
    _assert_round_trip(raw, tagged_subject(NUMBER, subject))


def test_a_subject_with_line_breaks_stays_one_header() -> None:
    """Header injection: a customer's CR/LF or Unicode line separator never starts a header."""
    raw = _sent(NUMBER, "Помогите\r\nBcc: victim@evil.test\u2028X-Evil: 1\x85ещё")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Bcc"] is None and message["X-Evil"] is None
    _assert_round_trip(raw, f"[{NUMBER}] Помогите Bcc: victim@evil.test X-Evil: 1 ещё")


def test_ascii_subjects_go_out_unencoded() -> None:
    """Plain text stays readable in the raw mail (and for naive filters on the tag)."""
    raw = _sent(NUMBER, "Printer on fire, " * 8)
    assert b"=?" not in b"".join(_subject_lines(raw))
    _assert_round_trip(raw, tagged_subject(NUMBER, "Printer on fire, " * 8))


SCRIPTS = st.sampled_from(
    [
        "abcxyzABCXYZ0123456789",
        "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ",
        "áäčďéíĺľňóôŕšťúýžÁČĎŠŽ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВЁЖЯ",
        "ґєіїҐЄІЇʼ",
        "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی\u200c۰۱۲۳۴۵۶۷۸۹",
        "😀🧾🚀👍🏽",
        ".,;:!?()[]«»—-=?_/\"'",
    ]
)
WORDS = SCRIPTS.flatmap(lambda chars: st.text(alphabet=chars, min_size=1, max_size=14))
SUBJECTS = st.lists(
    st.tuples(WORDS, st.sampled_from([" ", " ", " ", "  ", ""])), min_size=1, max_size=16
).map(lambda parts: "".join(word + gap for word, gap in parts))


@settings(max_examples=300, deadline=None)
@given(subject=SUBJECTS, number=st.sampled_from([NUMBER, None]))
def test_any_subject_from_our_scripts_round_trips(subject: str, number: str | None) -> None:
    _assert_round_trip(_sent(number, subject), tagged_subject(number, subject))


@pytest.mark.parametrize(
    ("number", "subject", "expected"),
    [
        (NUMBER, "Не работает склад", "[CBX-000042] Не работает склад"),
        (NUMBER, "Re: [CBX-000042] Не работает склад", "[CBX-000042] Не работает склад"),
        (NUMBER, "AW: Re: Odp: [cbx-000042] Re: склад", "[CBX-000042] склад"),
        (NUMBER, "Відп: Пересл: ［CBX－000042］ склад", "[CBX-000042] склад"),
        (NUMBER, "پاسخ: ]CBX-000042[ انبار", "[CBX-000042] انبار"),
        (NUMBER, "Re[2]: ( CBX-000042 ) x", "[CBX-000042] x"),
        (NUMBER, "Re: [GRS-000001] склад", "[CBX-000042] [GRS-000001] склад"),
        (NUMBER, "Re: [CBX-000041] склад", "[CBX-000042] [CBX-000041] склад"),
        (NUMBER, "Reason: склад", "[CBX-000042] Reason: склад"),
        (NUMBER, "Re: [CBX-000042]", "[CBX-000042] (no subject)"),
        (NUMBER, "", "[CBX-000042] (no subject)"),
        (None, "склад", "Re: склад"),
        (None, "RE: Re: Fwd: склад", "Re: склад"),
    ],
)
def test_tagged_subject_has_one_tag_and_no_reply_chain(
    number: str | None, subject: str, expected: str
) -> None:
    assert tagged_subject(number, subject) == expected


def test_an_encoded_subject_keeps_its_text_on_the_message() -> None:
    """What the outbox stores as the reply's subject (str of the header) is the plain text."""
    raw = _sent(NUMBER, LONG_SUBJECTS["fa"], "fa")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert str(message["Subject"]) == f"[{NUMBER}] {LONG_SUBJECTS['fa']}"
