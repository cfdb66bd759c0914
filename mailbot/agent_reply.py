"""agent_reply: what an agent newly wrote in a reply to a notice — the quoted notice and the
agent's signature cut off, so the customer gets the answer and not our own mail back.

`quotequail` (maintained, pure Python) goes first: it knows the English clients' quote headers
and separators. It knows no Russian, Ukrainian, Slovak or Persian client and not Thunderbird's
Polish "W dniu … pisze:", so our own small rules go over what it leaves: each client's quote
header in our six languages, Outlook's header blocks, a trailing `>` quote and the `-- `
signature delimiter. docs/benchmarks.md has the measurement on tests/agent_replies/ that
chose this (and the other libraries' figures).
"""

from __future__ import annotations

import re

import quotequail

from mailbot.parse import Mail

_WROTE = re.compile(
    r"(wrote|schrieb|пишет|пише|написал|написала|написал\(а\)|написав|написала?\(а\)|pisze"
    r"|napisał|napisała|napisał\(a\)|napísal|napísala|napísal\(a\)|نوشت|نوشته است)\s*:$",
    re.IGNORECASE,
)
"""The end of a client's "On <date>, <name> wrote:" line, in the languages our agents use."""

_GMAIL_NO_VERB = re.compile(r"\d{4}.*<[^<>\s]+@[^<>\s]+>\s*:$")
"""Russian Gmail writes no verb: "пт, 20 нояб. 2026 г. в 12:00, Name <addr>:"."""

_ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|исходное сообщение|оригинальное сообщение"
    r"|оригінальне повідомлення|вихідне повідомлення|wiadomość oryginalna|oryginalna wiadomość"
    r"|pôvodná správa|původní zpráva|پیام اصلی|نامه اصلی)\s*-{2,}$",
    re.IGNORECASE,
)
_FROM = re.compile(r"^\*?(from|от|від|od|از)\s*:\*?\s", re.IGNORECASE)
_SENT = re.compile(
    r"^\*?(sent|date|отправлено|дата|надіслано|wysłane|wysłano|data|odoslané|odesláno"
    r"|dátum|ارسال شده|تاریخ)\s*:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^_{10,}$")
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)|[۱۲][۰-۹]{3}")
_SIGNATURE = "--"
"""The signature delimiter "-- " (RFC 3676), also without its space, as clients often send it."""


def agent_text(mail: Mail) -> str:
    """The agent's new words in `mail`."""
    return clean(mail.text)


def clean(text: str) -> str:
    """`text` without quoted history and signature; the library first, then our rules."""
    text = text.replace("\r\n", "\n")
    unwrapped = quotequail.unwrap(text)
    if unwrapped and "text_top" in unwrapped:
        text = unwrapped["text_top"]
    return own_rules(text)


def own_rules(text: str) -> str:
    """Cut at the first quote header, Outlook header block or signature delimiter; drop a
    quote (`>` lines) that runs to the end."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    cut = len(lines)
    for index, line in enumerate(lines):
        if _starts_quote(lines, index) or line == _SIGNATURE:
            cut = index
            break
    lines = lines[:cut]
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    return "\n".join(lines).strip("\n")


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line or line.startswith(">"):
        return False
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if _ORIGINAL.match(line):
        return True
    if _FROM.match(line) or (_RULE.match(line) and _FROM.match(following)):
        block = [part.strip() for part in lines[index : index + 5]]
        return any(_SENT.match(part) for part in block)
    if _is_header(line):
        return True
    # a header the client wrapped in two lines ("On Fri, 20 Nov 2026 ... CleverBox:CRM <" /
    # "support@...> wrote:"): the date is on the first line, none on the second
    return (
        _is_header(f"{line} {following}")
        and _YEAR.search(line) is not None
        and _YEAR.search(following) is None
    )


def _is_header(line: str) -> bool:
    return _WROTE.search(line) is not None or _GMAIL_NO_VERB.search(line) is not None
