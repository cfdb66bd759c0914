"""category: what a request is about, as the desk's categories name it (Serwisant, seed 000).

Serwisant solves payment and subscription problems the same working day and everything else
within 24 to 48 working hours; the deadline follows from the category, so the category must
be found from the mail itself: the desk lists its categories in order, each with words per
language, and the first whose words stand in the subject or the new text wins. Quoted
history and signatures are not read (a signature's "faktury VAT" address block is no
payment problem). Nothing found leaves the ticket without a category, or with `default`.
"""

from __future__ import annotations

from pydantic import field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import FirstOf, Tables, check_codes, check_tables


class Category:
    name = "category"
    description = "the request's category, from the desk's keyword lists (first match wins)"

    class Settings(RuleSettings):
        categories: Tables
        """Category code -> language -> words (`*` any ending, `{a,b}` either); first found wins.
        Required (the words are the desk's); `{}` gives every mail the `default`."""
        default: str | None = None
        """The category when none is found; None leaves the ticket without one."""

        @field_validator("categories")
        @classmethod
        def _codes(cls, value: Tables) -> Tables:
            check_codes(value, "category", "payments")
            return check_tables(value)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.categories = FirstOf.of(settings.categories)
        default = [] if settings.default is None else [settings.default]
        self.codes = tuple(dict.fromkeys([*settings.categories, *default]))

    def _category(self, mail: Mail) -> tuple[str, str] | None:
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        found = self.categories.first(text)
        if found is not None:
            code, word = found
            return code, f"category {code}: found {word!r}"
        if self.settings.default is None:
            return None
        return self.settings.default, "no category's words found (the default)"

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """The category the ticket would get; none when nothing is found and no default."""
        found = self._category(mail)
        return frozenset() if found is None else frozenset({found[0]})

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        found = self._category(mail)
        return None if found is None else self._verdict(*found)

    def _verdict(self, code: str, detail: str) -> Verdict:
        return Verdict(self.name, Action.annotate, detail=detail, annotations={"category": code})


RULE = Category
