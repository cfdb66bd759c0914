"""textnorm: pure text helpers shared by rules and tickets (no I/O).

What a customer newly wrote, without the quoted history and signature their mail client
appended, is what rules should read: a keyword in a quoted earlier message is not a new
request, and two copies of one request differ only in such noise.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_REPLY_PREFIX = re.compile(
    r"^\s*((re|fwd?|aw|odp|sv|vs|ответ|отв|ha|رد|پاسخ)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_TICKET_TAG = re.compile(r"\[[A-Z][A-Z0-9]{1,9}-\d{6,}\]")
_QUOTE_HEADER = re.compile(
    r"^(on .{0,200} wrote:|.{0,200} (пишет|написал|написала|napisał|napísal|نوشت)\s*:|"
    r"-{2,}\s*(original message|исходное сообщение|пересылаемое сообщение|oryginalna wiadomość)"
    r"\s*-{2,}|from:\s.+|от:\s.+|od:\s.+)$",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_SIGNATURE_LINE = re.compile(r"^[ \t]*(?:--|__)[ \t]*$", re.MULTILINE)


def new_text(text: str, *, signature: bool = False) -> str:
    """The part of a body the sender wrote now: stops at the signature or quoted history.

    With `signature`, the signature is kept (only its `-- ` separator line is dropped): it is
    noise for matching a request's topic, but a name, a phone or a project is often there.
    """
    if signature:
        text = _SIGNATURE_LINE.sub("", text)
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("--", "-- ", "__") or line.startswith("-- "):
            break
        if _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def clean_subject(subject: str) -> str:
    """Subject without Re:/Fwd: prefixes and ticket tags, for comparing requests."""
    return _SPACE.sub(" ", _TICKET_TAG.sub("", _REPLY_PREFIX.sub("", subject))).strip()


def normalise(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def fingerprint(subject: str, text: str) -> str:
    """Same request, same fingerprint: case, spacing, Re:, quotes and signatures ignored."""
    basis = normalise(clean_subject(subject)) + "\n" + normalise(new_text(text))
    return hashlib.sha256(basis.encode()).hexdigest()[:32]
