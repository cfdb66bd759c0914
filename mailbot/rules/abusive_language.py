"""abusive_language: obscene language or insults are refused (CleverBox, seed 004).

CleverBox refuses requests using "нецензурной лексики и оскорбления". The words live in
`wordlists/<lang>.txt`, one per line, so that people who speak the language can keep them
without touching code. Each line is a word or phrase as `_keywords` matches it: anchored at
the start of a word, `*` at the end for any ending. Mat is built from a few roots behind
many prefixes (за-, на-, вы-, отъ-, у-...), so a line may hold alternatives in braces:
`{,за,на,вы}еба*` is four lines. Anchoring is what keeps "учебник", "требуется", "себе" and
"застрахуйте" innocent; a bare substring search would refuse them.

All lists are searched whatever the desk's language (customers mix languages), in the subject
and the new text only: quoted history is someone else's words (often our own reply) and a
signature is not said to us. Follow-ups are checked too: an insult inside an existing ticket
is refused like any other, which is what the regulation says.

The words are never repeated back: neither the reply nor the detail line quote them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import any_of, check_keywords, keyword_list

WORDLISTS = Path(__file__).with_name("wordlists")
CODE = "abusive"
"""What `detect` returns for a mail the rule refuses (the labelled sets' code)."""
LANGUAGES = tuple(sorted(path.stem for path in WORDLISTS.glob("*.txt")))
"""The languages with a list: a new list is one new file, no code."""


def parse_wordlist(lines: Iterable[str]) -> list[str]:
    """Lines of a word list -> words and phrases; `#` starts a comment."""
    words: list[str] = []
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if line:
            words.extend(keyword_list({"": [line]}))
    return words


@cache
def wordlist(language: str) -> tuple[str, ...]:
    """The shipped list of one language, read once per process."""
    path = WORDLISTS / f"{language}.txt"
    return tuple(parse_wordlist(path.read_text(encoding="utf-8").splitlines()))


class AbusiveLanguage:
    name = "abusive_language"
    description = "obscene language or insults (word lists per language)"

    class Settings(RuleSettings):
        languages: list[str] = Field(default_factory=lambda: list(LANGUAGES))
        """Whose word lists are searched (all of them by default: customers mix languages)."""
        extra_words: dict[str, list[str]] = Field(default_factory=dict)
        """Language -> more words, same syntax as the lists; always searched."""

        @field_validator("languages")
        @classmethod
        def _known(cls, value: list[str]) -> list[str]:
            for language in value:
                if language not in LANGUAGES:
                    raise ValueError(f"no word list for {language!r}; there are {LANGUAGES}")
            return value

        @field_validator("extra_words")
        @classmethod
        def _extra(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
            if value:
                check_keywords(value)
            return value

    def __init__(self, settings: Settings) -> None:
        words: dict[str, list[str]] = {lang: list(wordlist(lang)) for lang in settings.languages}
        for language, extra in settings.extra_words.items():
            words.setdefault(language, []).extend(parse_wordlist(extra))
        self.pattern = any_of(w for ws in words.values() for w in ws)
        self.by_language = {language: any_of(ws) for language, ws in words.items()}
        self.codes = (CODE,)

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """`abusive` when a listed word stands in the subject or the new text."""
        found = self.pattern.search(_keywords.searchable(mail))
        return frozenset(self.codes) if found else frozenset()

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        text = _keywords.searchable(mail)
        if not self.pattern.search(text):
            return None
        language = next((lang for lang, p in self.by_language.items() if p.search(text)), "?")
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"obscene or insulting word from the {language} list in the subject or new text",
        )


RULE = AbusiveLanguage
