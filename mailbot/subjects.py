"""subjects: the ticket tag in a subject as mail clients hand it back to us, and the subject
without the reply and forward prefixes they stack in front of it. Pure, so threading
(history) and our replies' subjects (replies) read a subject the same way.

Clients mangle what we sent: Outlook writes `AW:`/`Odp:`/`Отв:`/`پاسخ:` in its user's
language, some count replies (`Re[2]:`), fullwidth or mirrored (RTL) brackets and lower case
turn up, and people retype the tag with spaces or parentheses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

REPLY_PREFIXES = (
    # replies: English, German, Polish/Czech/Slovak, Russian, Ukrainian, Persian, Nordic, Dutch
    *("re", "aw", "odp", "отв", "ответ", "відп", "відповідь", "پاسخ", "sv", "antw"),
    # forwards: English, German, Polish, Russian/Ukrainian
    *("fw", "fwd", "wg", "pd", "пересл", "переслать"),
)
"""Words a client puts before `:` when a person answers or forwards a mail."""

_PREFIX = re.compile(
    r"^\s*(?:(?:"
    + "|".join(sorted(map(re.escape, REPLY_PREFIXES), key=len, reverse=True))
    + r")\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_GAP = "[\\s\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]*"
"""Spaces and the invisible direction marks RTL clients slip in."""
_BRACKET = "[\\[\\]()［］（）]"
"""Either bracket on either side: an RTL line shows `]CBX-000042[` and is sent so."""
_DASH = "[-\u2010-\u2015\u2212\uff0d]"


def _letters(prefix: str) -> str:
    """The prefix in any case, ASCII or fullwidth (what IME input gives)."""
    spellings = ((c.lower(), c.upper(), _wide(c.lower()), _wide(c.upper())) for c in prefix)
    return "".join(f"[{''.join(dict.fromkeys(each))}]" for each in spellings)


def _wide(c: str) -> str:
    return chr(ord(c) + 0xFEE0)


def _tag_pattern(prefix: str) -> re.Pattern[str]:
    """`[CBX-000042]` and its mangled spellings; never a longer prefix that merely ends in
    ours (`[XCBX-000042]`): the bracket must come right before it."""
    return re.compile(
        f"{_BRACKET}{_GAP}{_letters(prefix)}{_GAP}{_DASH}{_GAP}(\\d{{6,}}){_GAP}{_BRACKET}"
    )


def _number(prefix: str, digits: str) -> str:
    # \d also matches fullwidth and Persian digits; ticket numbers are spelled in ASCII
    return f"{prefix}-{''.join(str(unicodedata.digit(c)) for c in digits)}"


def ticket_numbers(subject: str, prefix: str) -> Iterator[str]:
    """The numbers of the desk's (`prefix`) tickets tagged in `subject`, in the order written,
    spelled as we issue them (`CBX-000042`)."""
    for match in _tag_pattern(prefix).finditer(subject):
        yield _number(prefix, match.group(1))


def strip_reply_prefixes(subject: str) -> str:
    """`Re: AW: Fwd: question` -> `question`."""
    return _PREFIX.sub("", subject, count=1).strip()


def bare_subject(subject: str, number: str | None = None) -> str:
    """What the person wrote: reply prefixes and, given `number`, our own tag in any of its
    spellings removed, also where more prefixes follow the tag (`Re: [CBX-1] AW: x`)."""
    text = strip_reply_prefixes(subject)
    if number is None:
        return text
    prefix = number.rpartition("-")[0]
    tag = re.compile(f"{_tag_pattern(prefix).pattern}\\s*")
    untagged = tag.sub(lambda m: "" if _number(prefix, m.group(1)) == number else m.group(0), text)
    return strip_reply_prefixes(untagged) if untagged != text else text
