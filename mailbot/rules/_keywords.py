"""Keyword lists as desks write them, matched against what a customer newly wrote. Pure.

A desk file lists words per language; `*` at the end of a word of two letters or more matches
any ending, which is how inflected languages are covered ("płatnoś*" finds płatność,
płatności, płatnościami). Several words form a phrase: "управленческ* учет*" needs both, in
order, with up to two other words between them.

Braces hold alternatives, separated by commas, an empty one allowed: "учет{,а,у}" is
"учет", "учета" or "учету", and "{,за,на}еб*" is "еб*", "заеб*" and "наеб*". A phrase with
several groups stands for every combination ("как {вести,организовать} учет{,а}" is four
phrases), and an alternative may hold several words ("{log in,sign in} to our"). Inflected
languages need such exact endings where a stem would say too much: "учет*" also finds
"учетная запись", a user account. Groups do not nest.

A phrase may hold `...` as a word: the words on either side may then stand up to eight
words apart in one sentence ("panel* ... {nasz*,własn*} serwer*" finds "panel kliencki, który
mamy zainstalowany na naszym serwerze"; "порадьте ... фінансов* облік*"), for the free word
order of Polish or Russian and the Persian verb after the whole object ("فیلد* ... اضافه
{کنید,کنین}"), where two words between are too few. A sentence ends at . ! ? ; (not inside
"8.3" or "nazwa.pl"), at the Persian ؟ and ؛, or at a blank line; a wrapped line goes on.
Without `...` nothing changes.

A match is strong or weak (`KeywordSet.strong`, issue 11): strong when the words of a phrase
stand as close as in a phrase without `...` (two other words between at most), or when any
phrase stands in the subject; weak when only a `...` gap of three to eight words in the body
finds it. Rules that refuse (`out_of_scope`, `not_entitled`) refuse on a strong match only;
a weak one opens the ticket with the doubt for the agent. Measured on the labelled mails,
every wide match of a topic the mail was not about spanned six words or more.

A rule may also pass over a phrase that stands right after a negation in the same clause
(`KeywordSet.found`): "nie chcemy zmieniać wyglądu wydruku", "we do not need any redesign"
do not ask for what their words name. `matches` and `first` do not look (every rule
that does not ask for it reads as before).

Matching is case-insensitive, on word boundaries, after Unicode normalisation (ё/е and
similar are folded by casefold + NFKC where they can be) and Persian folding: ي/ى/ك typed on
Arabic keyboards are read as ی/ک, a zero-width non-joiner (بی‌شعور) as a space, a tatweel
not at all. Keywords and mail text are folded alike, so every rule reads them the same way.

Every rule that takes keywords in its settings checks them at start-up with
`check_keywords` (or `check_phrases` / `check_tables` where a list may be empty), so a
malformed keyword stops start-up with the same message whichever rule it is written for.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from mailbot.parse import Mail
from mailbot.textnorm import clean_subject, new_text, normalise

Localized = Mapping[str, Sequence[str]]
"""Language code -> words or phrases."""

Tables = dict[str, dict[str, list[str]]]
"""Code (a category, a type, a level) -> language -> words or phrases, tried in order."""

READ_CHARS = 20_000
"""What a customer says about their request stands at its start; a log pasted below it
would only cost time (each word of the lists is a pass over the text)."""

_CODE = "[a-z][a-z0-9_]{0,63}"
CODE = f"^{_CODE}$"
"""What a desk may call a category, a product, an exclusion or an entitlement."""

_GAP = r"(?:\W+\w+){0,2}?\W+"
_WIDE = "..."
"""A word of a phrase that lets its neighbours stand up to `_WIDE_WORDS` words apart."""
_WIDE_WORDS = 8
_WIDE_SEP = r"(?:[^\w.!?;\n؟؛]|[.!?](?=\w)|\n(?!\s*\n))+"
"""What separates two words inside one sentence: not a full stop, !, ? or ; ending it (one
inside a number or a domain, "8.3", "nazwa.pl", is no end), nor the Persian ؟ and ؛, not a
blank line."""
_WIDE_GAP = f"(?:{_WIDE_SEP}\\w+){{0,{_WIDE_WORDS}}}?{_WIDE_SEP}"
_CLAUSE_END = re.compile(r"[.,;:!?()\n–—،؛؟]")
"""Where a clause ends: punctuation, the Persian comma, semicolon and question mark too."""
_NEGATIONS = frozenset(
    {"nie", "not", "never", "ani", "ne", "не", "ні", "нет"}
    | {"لازم نیست", "نیازی نیست", "احتیاجی نیست", "ضرورتی نیست"}
)
"""Words (or two-word wordings) that negate what follows them in the clause: pl, en, sk/cs,
ru, uk; fa "لازم نیست تماس بگیرید" (no need to call)."""
_NEGATION_STEMS = ("نمیخوا",)
"""Word beginnings that negate what follows: fa "نمی‌خوایم کسی بیاد" (we do not want)."""
_NEGATION_REACH = 3
"""How many words before a phrase a negation still negates it ("nie chcemy zmieniać")."""
_NEGATIONS_AFTER = frozenset(
    {"نیست", "نیستیم", "نیس", "نداریم", "ندارم", "نداره", "ندارد", "ندارند", "ندارن"}
    | {"نخواهیم", "نخواستیم", "نمیشه", "نمیشود", "نمیشن", "نمیکنه", "نمیکند"}
)
"""Negated verbs that negate the phrase BEFORE them in its clause, for verb-final languages:
fa puts the verb after its object, "نیازی به مشاوره و طراحی نداریم", "پشتیبانی تلفنی
نمی‌خوایم", "... ثبت نمیشه" (a fault, no request)."""
_NEGATION_STEMS_AFTER = ("نمیخوا",)
_NEGATION_AFTER_REACH = 3
"""How many words after a phrase a negated verb still negates it ("... ثبت نمیشه")."""
_NEGATION_AFTER_STOPS = frozenset({"چون", "که", "ولی", "اما", "تا", "لطفا", "زیرا"})
"""Words that begin another clause after a phrase: a negated verb past them is another's."""
_SPLIT_PREFIX = re.compile(r"(?<!\w)(نمی) (?=\w)")
"""fa "نمی‌خوایم" is written with a ZWNJ, folded to a space: read as one word again."""
_QUOTED = re.compile(r"«([^«»\n]*)»")
_QUOTED_WORDS = 5
"""A quotation of this many words or more in «...» is someone's sentence (an earlier answer
quoted without ">"), not the customer's request; a shorter one names a thing («طراحی فرم»)."""
_WORD_START = r"(?<!\w)"
_BRACES = re.compile(r"\{([^{}]*)\}")
# Arabic-keyboard letters and the zero-width non-joiner Persian writers use or omit at will.
_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "\u200c": " ", "ـ": None})


def fold_persian(text: str) -> str:
    """ي/ك typed on Arabic keyboards become ی/ک; a ZWNJ (بی‌شعور) counts as a space."""
    return text.translate(_PERSIAN)


def fold(text: str) -> str:
    """Text as keywords are matched against it: case, Unicode forms, ё and Persian folded."""
    return fold_persian(normalise(text)).replace("ё", "е")


def expand(phrase: str) -> list[str]:
    """`{,за,на}еб*` -> ['еб*', 'заеб*', 'наеб*']: each brace group is a list of choices.

    Inflected languages need exact endings where a stem would say too much: "учет{,а,у}"
    is accounting, while "учет*" also finds "учетная запись" (a user account).
    """
    pieces = _BRACES.split(phrase)
    # split() alternates literal text and the inside of a brace group
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(pieces)]
    return [" ".join("".join(combo).split()) for combo in itertools.product(*choices)]


def _pattern(words: Sequence[str]) -> str:
    """The folded words of one phrase without braces, as a regular expression."""
    return _WORD_START + _words(words) + r"(?!\w)"


def _words(words: Sequence[str]) -> str:
    parts = []
    for word in words:
        stem = word.rstrip("*")
        parts.append(re.escape(stem) + (r"\w*" if word.endswith("*") else ""))
    return _GAP.join(parts)


_FACTOR_ABOVE = 64
"""A phrase whose braces stand for more phrases than this is matched by one pattern of its
groups (`_factored`) rather than by every phrase it stands for: round 3's cloudempiere list
has phrases of 1,568 ("{4 asks} {,nám} {,prosím} {7 verbs} {14 objects}"), whose spelled-out
alternatives made a 750 KB expression that took 3 s to compile. Smaller ones stay spelled
out, so what they match, and where, is as it was."""


def _factored_if_many(phrase: str, expanded: Sequence[str]) -> str | None:
    """`_factored(phrase)` where its braces stand for more than `_FACTOR_ABOVE` phrases."""
    return _factored(phrase) if len(expanded) > _FACTOR_ABOVE else None


def _factored(phrase: str) -> str | None:
    r"""`{a,b} {,c} d*` as `(?:a|b)(?:|GAP c)GAP d\w*`: a regex the size of the sum of its
    choices, not the product. A text matches it exactly where it matches one of the phrases
    it stands for (tests/test_keyword_patterns.py); choices are tried in the group's order,
    as the spelled-out phrases were, though where two readings match from the same start it
    may end at another. Only for groups that stand as whole words (spaces or the ends
    around them) and a first group without an empty choice; None else."""
    pieces = _BRACES.split(" ".join(phrase.split()))
    if len(pieces) == 1:
        return None
    slots: list[list[list[str]]] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 1:
            slots.append([fold(alt).split() for alt in piece.split(",")])
            continue
        glued_before = i > 0 and not piece.startswith(" ")
        glued_after = i < len(pieces) - 1 and not piece.endswith(" ")
        if (piece or 0 < i < len(pieces) - 1) and (glued_before or glued_after):
            return None
        slots.extend([[word]] for word in fold(piece).split())
    if not slots or not all(slots[0]):
        return None
    parts = []
    for k, slot in enumerate(slots):
        choices = [(_GAP if k else "") + _words(words) if words else "" for words in slot]
        parts.append(choices[0] if len(choices) == 1 else "(?:" + "|".join(choices) + ")")
    return "".join(parts)


def _is_wide(phrase: str) -> bool:
    return _WIDE in phrase.split()


def _segments(phrase: str) -> list[str]:
    """`a {b,c} ... d` -> ['a {b,c}', 'd']: the pieces `...` joins."""
    return " ".join(phrase.split()).split(f" {_WIDE} ")


def _wide_pattern(phrase: str, gap: str = _WIDE_GAP) -> str:
    """A phrase with `...`, as one expression: each piece's alternatives as a group, the
    pieces joined by the wide gap. Expanding the braces of all pieces together would make
    thousands of phrases of one ("{16 verbs} ... {16 looks} ... {10 objects}")."""
    pieces = []
    for segment in _segments(phrase):
        expanded = expand(segment)
        if (factored := _factored_if_many(segment, expanded)) is not None:
            pieces.append("(?:" + factored + ")")
            continue
        alternatives = dict.fromkeys(
            _words(words) for alt in expanded if (words := fold(alt).split())
        )
        pieces.append("(?:" + "|".join(alternatives) + ")")
    return _WORD_START + gap.join(pieces) + r"(?!\w)"


def _clause_words(clause: str) -> list[str]:
    return re.findall(r"\w+(?:['’]\w+)?", _SPLIT_PREFIX.sub(r"\1", clause))


def negated(text: str, start: int) -> bool:
    """Whether a negation stands within `_NEGATION_REACH` words before `start` in the same
    clause of already-folded `text` ("nie potrzebujemy szkolenia", "we don't need")."""
    clause = _CLAUSE_END.split(text[max(0, start - 120) : start])[-1]
    words = _clause_words(clause)[-_NEGATION_REACH - 1 :]
    pairs = [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return any(
        w in _NEGATIONS or w.endswith(("n't", "n’t")) or w.startswith(_NEGATION_STEMS)
        for w in [*words[-_NEGATION_REACH:], *pairs]
    )


def negated_after(text: str, start: int, end: int) -> bool:
    """Whether a negated verb (`_NEGATIONS_AFTER`) stands within `_NEGATION_AFTER_REACH`
    words after the phrase found at `text[start:end]`, in the clause where it begins: verb-
    final languages negate the verb after the object ("نیازی به اتصال از راه دور نیست"). A
    phrase of several words (`...`) reaching past a comma is read up to that comma only."""
    clause = _CLAUSE_END.split(text[start : end + 120], maxsplit=1)[0]
    inside = len(_clause_words(text[start : min(end, start + len(clause))]))
    after = _clause_words(clause)[inside : inside + _NEGATION_AFTER_REACH]
    within = list(itertools.takewhile(lambda w: w not in _NEGATION_AFTER_STOPS, after))
    words = _clause_words(clause)[:inside] + within
    return any(w in _NEGATIONS_AFTER or w.startswith(_NEGATION_STEMS_AFTER) for w in words)


def quoted(text: str, start: int) -> bool:
    """Whether `start` lies inside a quotation «...» of `_QUOTED_WORDS` words or more."""
    return any(
        m.start() < start < m.end() and len(m.group(1).split()) >= _QUOTED_WORDS
        for m in _QUOTED.finditer(text)
    )


def _alternatives(phrase: str, *, close: bool = False) -> list[str]:
    """The patterns of each phrase a brace group stands for (one for a phrase without).
    `close`: a `...` phrase's pieces at most two words apart, as in a phrase without."""
    if _is_wide(phrase):
        return [_wide_pattern(phrase, _GAP if close else _WIDE_GAP)]
    expanded = expand(phrase)
    if (factored := _factored_if_many(phrase, expanded)) is not None:
        return [_WORD_START + factored + r"(?!\w)"]
    return [_pattern(words) for alt in expanded if (words := fold(alt).split())]


def compile_all() -> int:
    """Compile every pattern not compiled yet; how many. A worker calls it before its first
    mail (`Pipeline.warm_up`), so no mail waits for the seconds a cold start takes; a CLI
    command that reads one mail or none does not."""
    count = 0
    while _NOT_YET_COMPILED:
        count += _NOT_YET_COMPILED.pop()._compile_now()
    return count


class Lazy:
    """A regular expression built and compiled where it is first searched, not at start-up.

    The shipped desks list about 12,000 phrases; compiling them all took 6 s at every start
    of a `mailbot` command (`tickets show` included), because `re` parses in Python. A mail
    reads only its own desk's merged patterns, and a phrase's own pattern only to name the
    phrase found. Compiled once, then shared: `_compile` and `any_of` hand out one `Lazy`
    per distinct phrase list, so two desks listing the same words compile them once.
    """

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: Callable[[], str], *, warm: bool = True) -> None:
        self._source = source
        self._compiled: re.Pattern[str] | None = None
        if warm:  # else compiled only where it is searched, never by `compile_all`
            _NOT_YET_COMPILED.append(self)

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._source() or r"(?!)")
        return self._compiled

    def _compile_now(self) -> int:
        if self._compiled is not None:
            return 0
        self.compiled  # noqa: B018 (compiles)
        return 1

    def search(self, text: str) -> re.Match[str] | None:
        return self.compiled.search(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(text)

    def split(self, text: str) -> list[str | Any]:
        return self.compiled.split(text)


_NOT_YET_COMPILED: list[Lazy] = []
_NOTHING = Lazy(str)
"""A pattern that finds nothing."""


@lru_cache(maxsize=65536)
def _compile(phrase: str) -> Lazy:
    """One phrase's own pattern: searched only to name the phrase once its list's merged
    pattern found one (`Phrases.first`), so not compiled at warm-up (27,000 of them)."""
    return Lazy(lambda: "|".join(_alternatives(phrase)), warm=False)


def searchable(mail: Mail, *, quoted: bool = False) -> str:
    """Subject and the new text of the body, folded for matching (quoted history left out)."""
    body = mail.text if quoted else new_text(mail.text)
    return fold(f"{clean_subject(mail.subject)}\n{body}")


def searchable_subject(mail: Mail) -> str:
    """The subject alone, folded as `searchable` folds it: where a match is always strong."""
    return fold(clean_subject(mail.subject))


_SENTENCE_END = re.compile(r"[.!?;\n؟؛]+(?:\s+|$)")


def sentences(text: str) -> list[str]:
    """`text` cut at sentence ends (. ! ? ; ؟ ؛ and line breaks): a wording that takes a match
    back ("у остальных всё работает") counts only in the sentence of that match, not
    anywhere in a mail that may say several things. A dot inside a word ("M.E.Doc", "1.5")
    does not cut."""
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def first_standing(text: str, keywords: KeywordSet, unless: KeywordSet) -> str | None:
    """The first keyword found in a sentence of already-folded `text` that holds none of the
    `unless` wordings, or None. `unless` takes a match back where the customer says it is
    not what they ask ("ми НЕ питаємо про хостинг", "у остальных всё работает"), in that
    sentence only: the next one may well ask it. Without `unless` wordings this is
    `keywords.first(text)`."""
    if not unless.words.compiled:
        return keywords.first(text) if keywords.matches(text) else None
    for sentence in sentences(text):
        if keywords.matches(sentence) and not unless.matches(sentence):
            return keywords.first(sentence)
    return None


@dataclass(frozen=True)
class Phrases:
    """Words or phrases compiled once and tried in their order.

    A Localized mapping is read language by language, in the desk file's order. `merged`
    finds any of them in one search (`any_of`): most texts hold none, and they cost that one
    search instead of one per phrase; only a text that holds one is searched phrase by
    phrase, to name the first.
    """

    compiled: tuple[tuple[str, Lazy], ...]
    merged: Lazy = _NOTHING

    @classmethod
    def of(cls, words: Localized | Iterable[str]) -> Phrases:
        if isinstance(words, Mapping):
            chosen = [w for ws in words.values() for w in ws]
        else:
            chosen = list(words)
        kept = [phrase for phrase in chosen if phrase.strip()]
        return cls(tuple((phrase, _compile(phrase)) for phrase in kept), any_of(kept))

    def first(self, text: str) -> str | None:
        """The first phrase found in already-folded `text`, or None."""
        if self.merged.search(text) is None:
            return None
        return next((phrase for phrase, p in self.compiled if p.search(text)), None)


@dataclass(frozen=True)
class FirstOf:
    """Code -> phrases (categories, types, levels), compiled once; tried in the table's order."""

    codes: tuple[tuple[str, Phrases], ...]

    @classmethod
    def of(cls, tables: Mapping[str, Localized]) -> FirstOf:
        return cls(tuple((code, Phrases.of(words)) for code, words in tables.items()))

    def first(self, text: str) -> tuple[str, str] | None:
        """The first code whose words stand in already-folded `text`, and the word found."""
        for code, phrases in self.codes:
            found = phrases.first(text)
            if found is not None:
                return code, found
        return None


def keyword_phrases(table: Mapping[str, Iterable[str]]) -> list[str]:
    """Every language's phrases as written (braces kept), Persian folded: what `any_of`
    merges, factoring a phrase of many choices (`_factored`) instead of spelling it out."""
    return list(dict.fromkeys(w for ps in table.values() for p in ps if (w := fold_persian(p))))


def keyword_list(table: Mapping[str, Iterable[str]]) -> list[str]:
    """Every language's phrases, braces expanded and Persian folded, ready for `any_of`."""
    words = (
        fold_persian(w)
        for ps in table.values()
        for p in ps
        for w in ([p] if _is_wide(p) else expand(p))  # a wide phrase is compiled whole
    )
    return list(dict.fromkeys(w for w in words if w))


def any_of(words: Iterable[str], *, close: bool = False) -> Lazy:
    r"""One pattern finding any of the phrases `Phrases` finds, for a mail read against hundreds.

    The same patterns `Phrases` tries one by one, merged by first letter, with the word-start
    test moved behind that letter (`к(?<!\w.)` is `(?<!\w)к`): the pattern then opens with
    plain letters, which lets `re` skip to the places where one could begin. A long mail is
    searched once, in well under a millisecond, not once per phrase. With `close` a `...`
    phrase is found only with its pieces as close as a phrase without (`KeywordSet.strong`).
    Built and compiled at its first search (`Lazy`).
    """
    return _any_of(tuple(words), close)


@lru_cache(maxsize=1024)
def _any_of(words: tuple[str, ...], close: bool) -> Lazy:
    return Lazy(lambda: _merged(words, close))


def _merged(words: tuple[str, ...], close: bool) -> str:
    by_letter: dict[str, list[str]] = defaultdict(list)
    others: list[str] = []
    patterns = (p for w in words if w.strip() for p in _alternatives(w, close=close))
    for pattern in dict.fromkeys(patterns):
        rest = pattern.removeprefix(_WORD_START)
        if rest != pattern and rest[:1].isalnum():
            by_letter[rest[0]].append(rest[1:])
        else:
            others.append(pattern)
    merged = [
        f"{re.escape(letter)}(?<!\\w.)(?:{'|'.join(rests)})" for letter, rests in by_letter.items()
    ]
    return "|".join([*merged, *others])


@dataclass(frozen=True)
class KeywordSet:
    """One keyword table read once at start-up: its phrases and their merged pattern.

    `close` is the merged pattern of its phrases with every `...` read as a plain gap (at most
    two words between): what `strong` reads.
    """

    words: Phrases
    pattern: Lazy
    close: Lazy = _NOTHING

    @classmethod
    def of(cls, table: Mapping[str, Iterable[str]]) -> KeywordSet:
        phrases = keyword_phrases(table)
        pattern = any_of(phrases)
        named = tuple((word, _compile(word)) for word in keyword_list(table) if word.strip())
        return cls(Phrases(named, pattern), pattern, any_of(phrases, close=True))

    def matches(self, text: str) -> bool:
        """Some phrase stands in already-folded `text` (one search, however many phrases)."""
        return self.pattern.search(text) is not None

    def first(self, text: str) -> str | None:
        """Which phrase, for the detail line: the first found in already-folded `text`."""
        return self.words.first(text)

    def found(self, text: str, *, skip_negated: bool = False, skip_quoted: bool = False) -> bool:
        """`matches`, or with `skip_negated` only a phrase no negation stands before (nor,
        in a verb-final language, a negated verb after: `negated_after`), with
        `skip_quoted` only one outside a quoted sentence «...» (`quoted`)."""
        if not (skip_negated or skip_quoted):
            return self.matches(text)
        return any(
            not (skip_negated and (negated(text, m.start()) or negated_after(text, *m.span())))
            and not (skip_quoted and quoted(text, m.start()))
            for m in self.pattern.finditer(text)
        )

    def passage(
        self, text: str, *, skip_negated: bool = False, skip_quoted: bool = False
    ) -> str | None:
        """The words of already-folded `text` that the first match `found` counts spans, on
        one line: what a person reads to judge a match (a weak one above all), where `first`
        names the desk's phrase, braces and all. None when nothing is found."""
        for m in self.pattern.finditer(text):
            if skip_negated and (negated(text, m.start()) or negated_after(text, *m.span())):
                continue
            if skip_quoted and quoted(text, m.start()):
                continue
            return " ".join(m.group(0).split())
        return None

    def strong(
        self, text: str, subject: str, *, skip_negated: bool = False, skip_quoted: bool = False
    ) -> bool:
        """Whether the words stand in already-folded `text` as a STRONG match: a phrase
        with its words close (at most two other words between each, as in a phrase without
        `...`; a `...` phrase found so is as plain), or any phrase in the folded `subject`
        alone, either passed over as `found` passes over it.

        A match only through a `...` gap of three to eight words in the body is weak: words
        that far apart in a sentence may say something else ("przenieść ... dane" in "chcemy
        przenieść firmę do nowego biura, a dane..."). A rule refuses on a strong match only;
        on a weak one it opens the ticket and tells the agent its doubt. A subject is the
        customer's own summary: a wide phrase there says what they ask. Strength is read
        from the match alone, so a desk needs no second list for it. Measured on the labelled
        mails (docs/benchmarks.md, issue 11): every wide match of a code the mail was not
        about spanned six words or more; two thirds of the right ones three or more.
        """
        if self.found(subject, skip_negated=skip_negated, skip_quoted=skip_quoted):
            return True
        return any(
            not (skip_negated and (negated(text, m.start()) or negated_after(text, *m.span())))
            and not (skip_quoted and quoted(text, m.start()))
            for m in self.close.finditer(text)
        )


_Words = TypeVar("_Words", dict[str, list[str]], list[str])


def check_phrases(value: _Words) -> _Words:
    """Keywords (language -> phrases, or bare phrases) as `Phrases` can match them.

    `*` only at the end of a word of two letters or more (a lone `*` would match everything)
    and braces balanced, in every phrase the braces stand for. None at all is allowed here
    (it finds nothing); `check_keywords` is for a list that must say something.
    """
    for listed in keyword_list(value if isinstance(value, dict) else {"": value}):
        if _is_wide(listed):
            words = listed.split()
            if _WIDE in (words[0], words[-1]) or f"{_WIDE} {_WIDE}" in " ".join(words):
                raise ValueError(f"keyword {listed!r}: `{_WIDE}` goes between two words")
            pieces = [p for segment in _segments(listed) for p in expand(segment)]
        else:
            pieces = [listed]
        for phrase in pieces:
            _check_phrase(phrase)
    return value


def _check_phrase(phrase: str) -> None:
    if "{" in phrase or "}" in phrase:
        raise ValueError(f"keyword {phrase!r}: unbalanced braces")
    for word in phrase.split():
        stem = word.removesuffix("*")
        if "*" in stem or (word.endswith("*") and len(stem) < 2):
            raise ValueError(
                f"keyword {phrase!r}: `*` goes at the end of a word of 2 or more letters"
            )


def check_keywords(value: dict[str, list[str]]) -> dict[str, list[str]]:
    """A desk's keyword table as `Phrases` can match it without matching everything or nothing."""
    if not keyword_list(value):
        raise ValueError("no keywords")
    return check_phrases(value)


def check_tables(value: Tables) -> Tables:
    """Code -> keyword table, every table checked by `check_phrases` (a code may list none)."""
    for table in value.values():
        check_phrases(table)
    return value


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_N = TypeVar("_N", bound=_Named)


def listed_once(value: list[_N], what: str) -> list[_N]:
    """Named topics (exclusions, entitlements) as a desk lists them: no name twice."""
    names = [item.name for item in value]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{what} {twice[0]!r} is listed twice")
    return value


def check_codes(codes: Iterable[str], what: str, example: str) -> None:
    """The keys of a desk's table (categories, products) are codes as `CODE` says."""
    for code in codes:
        if not re.fullmatch(_CODE, code):
            raise ValueError(f"{what} code {code!r}: expected lowercase like {example}")
