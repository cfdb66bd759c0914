"""out_of_scope: topics a regulation excludes from support (Serwisant, cloudempiere, CleverBox).

Each desk lists its exclusions in order, with keywords per language; the first one found in
the subject or in what the customer newly wrote refuses the request, and the reply names
the exclusion and, where the regulation says so, who to ask instead (CleverBox sends hosting
questions to the hosting provider). Quoted history and signatures are not read: a customer
quoting our own earlier answer, or a signature naming a hosting company, asks nothing.

Keywords of every language are searched whatever the desk's language, because customers
mix them (a Ukrainian client of a Russian-speaking desk, an English product term in Polish).
Keyword lists must be phrases specific to the excluded topic: a refusal of a real problem is
worse than an agent reading one mail too many. Besides `*` (any ending) a phrase may hold
alternatives in braces, an empty one allowed: "складск* учет{,а,у}" is warehouse accounting,
where "учет*" would also be "учетная запись", a user account.

An exclusion may yield to a service level: CleverBox consults on accounting for clients with
an emergency contract, proven by an unexpired coupon of that customer's contract written
anywhere in the mail (subject, text, signature). A coupon is valid through its
`valid_until` day in the desk's time zone.

New requests only: an agent who is already talking about something in a ticket decides on
the customer's answers.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords

# Keyword helpers, shared with not_entitled and abusive_language; they would sit better in
# _keywords, where every keyword rule could use them.

# Arabic-keyboard letters and the zero-width non-joiner Persian writers use or omit at will.
_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "\u200c": " ", "ـ": None})
_BRACES = re.compile(r"\{([^{}]*)\}")
_WORD_START = r"(?<!\w)"
_NAME = r"^[a-z][a-z0-9_]{0,63}$"


def fold_persian(text: str) -> str:
    """ي/ك typed on Arabic keyboards become ی/ک; a ZWNJ (بی‌شعور) counts as a space."""
    return text.translate(_PERSIAN)


def expand(phrase: str) -> list[str]:
    """`{,за,на}еб*` -> ['еб*', 'заеб*', 'наеб*']: each brace group is a list of choices.

    Inflected languages need exact endings where a stem would say too much: "учет{,а,у}"
    is accounting, while "учет*" also finds "учетная запись" (a user account).
    """
    pieces = _BRACES.split(phrase)
    # split() alternates literal text and the inside of a brace group
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(pieces)]
    return [" ".join("".join(combo).split()) for combo in itertools.product(*choices)]


def keyword_list(table: Mapping[str, Iterable[str]]) -> list[str]:
    """Every language's phrases, braces expanded and Persian folded, ready for `any_of`."""
    words = (fold_persian(w) for ps in table.values() for p in ps for w in expand(p))
    return list(dict.fromkeys(w for w in words if w))


def check_keywords(value: dict[str, list[str]]) -> dict[str, list[str]]:
    """A desk's keyword table as `_keywords` can match it without matching everything."""
    words = keyword_list(value)
    if not words:
        raise ValueError("no keywords")
    for phrase in words:
        if "{" in phrase or "}" in phrase:
            raise ValueError(f"keyword {phrase!r}: unbalanced braces")
        for word in phrase.split():
            stem = word.removesuffix("*")
            if "*" in stem or (word.endswith("*") and len(stem) < 2):
                raise ValueError(
                    f"keyword {phrase!r}: `*` goes at the end of a word of 2 or more letters"
                )
    return value


def any_of(words: Iterable[str]) -> re.Pattern[str]:
    r"""One pattern finding any of `_keywords`' phrases, for a mail read against hundreds.

    The same patterns `_keywords.find` tries one by one, merged by first letter, with the
    word-start test moved behind that letter (`к(?<!\w.)` is `(?<!\w)к`): the pattern then
    opens with plain letters, which lets `re` skip to the places where one could begin. A
    long mail is searched once, in well under a millisecond, not once per phrase.
    """
    by_letter: dict[str, list[str]] = defaultdict(list)
    others: list[str] = []
    for word in dict.fromkeys(w for w in words if w.strip()):
        pattern = _keywords._compile(word).pattern
        rest = pattern.removeprefix(_WORD_START)
        if rest != pattern and rest[:1].isalnum():
            by_letter[rest[0]].append(rest[1:])
        else:
            others.append(pattern)
    merged = [
        f"{re.escape(letter)}(?<!\\w.)(?:{'|'.join(rests)})" for letter, rests in by_letter.items()
    ]
    return re.compile("|".join([*merged, *others]) or r"(?!)")


def valid_coupon(mail: Mail, context: Context) -> str | None:
    """The customer's coupon written in the mail and valid today (desk time), or None."""
    customer = context.customer
    if customer is None or not customer.coupons:
        return None
    today = context.now.astimezone(context.desk.zone).date()
    text = f"{mail.subject}\n{mail.text}"
    for coupon in customer.coupons:
        pattern = r"(?<![A-Za-z0-9])" + re.escape(coupon.code) + r"(?![A-Za-z0-9])"
        if coupon.valid_until >= today and re.search(pattern, text, re.IGNORECASE):
            return coupon.code
    return None


class Exclusion(RuleSettings):
    name: str = Field(pattern=_NAME)
    """Code of the exclusion, given to the reply template as `exclusion`."""
    title: dict[str, str] = Field(min_length=1)
    """Language -> how the reply names the excluded topic."""
    keywords: dict[str, list[str]] = Field(min_length=1)
    """Language -> words or phrases that mean this topic (`*` any ending, `{a,b}` either)."""
    refer_to: dict[str, str] | None = None
    """Language -> who to ask instead, where the regulation says."""
    unless_sla_level: Literal["emergency"] | None = None
    """The exclusion does not apply to mail carrying a valid coupon of the customer."""

    _keywords_ok = field_validator("keywords")(check_keywords)


class OutOfScope:
    name = "out_of_scope"
    description = "the request is about a topic the regulation excludes from support"

    class Settings(RuleSettings):
        exclusions: list[Exclusion] = Field(min_length=1)
        """In order: the first whose keywords are found refuses."""

        @field_validator("exclusions")
        @classmethod
        def _unique(cls, value: list[Exclusion]) -> list[Exclusion]:
            names = [e.name for e in value]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"exclusion {twice[0]!r} is listed twice")
            return value

    def __init__(self, settings: Settings) -> None:
        self.exclusions = [
            (exclusion, keyword_list(exclusion.keywords)) for exclusion in settings.exclusions
        ]
        self.patterns = [any_of(words) for _, words in self.exclusions]

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None
        text = fold_persian(_keywords.searchable(mail))
        for (exclusion, words), pattern in zip(self.exclusions, self.patterns, strict=True):
            if not pattern.search(text):
                continue
            if exclusion.unless_sla_level is not None and valid_coupon(mail, context):
                continue
            found = _keywords.find(text, words)
            return Verdict(
                self.name,
                Action.refuse,
                self.name,
                f"excluded topic {exclusion.name}: found {found!r}",
                values={
                    "exclusion": exclusion.name,
                    "exclusion_title": dict(exclusion.title),
                    "refer_to": dict(exclusion.refer_to) if exclusion.refer_to else None,
                },
            )
        return None


RULE = OutOfScope
