"""category: what a request is about, as the desk's categories name it (Serwisant, seed 000).

Serwisant solves payment and subscription problems the same working day and everything else
within 24 to 48 working hours; the deadline follows from the category, so the category must
be found from the mail itself: the desk lists its categories in order, each with words per
language, and the first whose words stand in the subject or the new text wins. Quoted
history and signatures are not read (a signature's "faktury VAT" address block is no
payment problem). Nothing found leaves the ticket without a category, or with `default`.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords

READ_CHARS = 20_000
"""What a customer says about their request stands at its start; a log pasted below it
would only cost time (each word of the lists is a pass over the text)."""


class Category:
    name = "category"
    description = "the request's category, from the desk's keyword lists (first match wins)"

    class Settings(RuleSettings):
        categories: dict[str, dict[str, list[str]]] = Field(default_factory=dict)
        """Category code -> language -> words (`*` = any ending); the first found wins."""
        default: str | None = None
        """The category when none is found; None leaves the ticket without one."""

        @field_validator("categories")
        @classmethod
        def _codes(cls, value: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
            for code in value:
                if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", code):
                    raise ValueError(f"category code {code!r}: expected lowercase like payments")
            return value

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        text = _keywords.searchable(mail)[:READ_CHARS]
        for code, words in self.settings.categories.items():
            found = _keywords.find(text, words)
            if found is not None:
                return self._verdict(code, f"category {code}: found {found!r}")
        if self.settings.default is None:
            return None
        return self._verdict(self.settings.default, "no category's words found (the default)")

    def _verdict(self, code: str, detail: str) -> Verdict:
        return Verdict(self.name, Action.annotate, detail=detail, annotations={"category": code})


RULE = Category
