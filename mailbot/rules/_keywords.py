"""Keyword lists as desks write them, matched against what a customer newly wrote. Pure.

A desk file lists words per language; `*` at the end of a word matches any ending, which is
how inflected languages are covered ("płatnoś*" finds płatność, płatności, płatnościami).
Several words form a phrase: "управленческ* учет*" needs both, in order, with up to two
other words between them. Matching is case-insensitive, on word boundaries, after Unicode
normalisation (ё/е and similar are folded by casefold + NFKC where they can be).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from mailbot.parse import Mail
from mailbot.textnorm import clean_subject, new_text, normalise

Localized = Mapping[str, Sequence[str]]
"""Language code -> words or phrases."""

_GAP = r"(?:\W+\w+){0,2}?\W+"


def _fold(text: str) -> str:
    return normalise(text).replace("ё", "е")


@lru_cache(maxsize=4096)
def _compile(phrase: str) -> re.Pattern[str]:
    parts = []
    for word in _fold(phrase).split():
        stem = word.rstrip("*")
        body = re.escape(stem) + (r"\w*" if word.endswith("*") else "")
        parts.append(body)
    return re.compile(r"(?<!\w)" + _GAP.join(parts) + r"(?!\w)")


def searchable(mail: Mail, *, quoted: bool = False) -> str:
    """Subject and the new text of the body, folded for matching (quoted history left out)."""
    body = mail.text if quoted else new_text(mail.text)
    return _fold(f"{clean_subject(mail.subject)}\n{body}")


def find(text: str, words: Localized | Iterable[str], languages: Sequence[str] = ()) -> str | None:
    """The first word or phrase found in already-folded `text`, or None.

    With a Localized mapping, only `languages` are searched (all when empty).
    """
    if isinstance(words, Mapping):
        chosen = [w for lang, ws in words.items() if not languages or lang in languages for w in ws]
    else:
        chosen = list(words)
    for phrase in chosen:
        if phrase.strip() and _compile(phrase).search(text):
            return phrase
    return None


def pick(texts: Mapping[str, str], language: str, fallback: str = "en") -> str:
    """A localized text for the reply language, else the fallback's, else any."""
    return texts.get(language) or texts.get(fallback) or next(iter(texts.values()), "")
