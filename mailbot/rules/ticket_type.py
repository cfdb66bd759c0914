"""ticket_type: every cloudempiere request is a request, incident, problem or change (seed 001).

The regulation sorts what customers report the ITIL way: an incident is something broken
now; a problem is the cause behind incidents that keep coming back; a change is a request
to alter the system; a request is a question or a service wish. Customers never use these
words the ITIL way ("máme problém" is usually an incident), so the type is read from what
they describe. The types are tried in the table's order and the first whose words are found
wins, so the specific ones come first: "opakovaná chyba" (a recurring error) is a problem
before it is an incident, "požiadavka na zmenu" a change before it is a request. Nothing
found means `default`. The annotation key is `type` (the ticket's column).
"""

from __future__ import annotations

from pydantic import field_validator, model_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import FirstOf, Tables, check_tables

TYPES = ("request", "incident", "problem", "change")


class TicketType:
    name = "ticket_type"
    description = "the ITIL type of the request: request, incident, problem or change"

    class Settings(RuleSettings):
        default: str = "request"
        """The type when no word of any type is found."""
        keywords: Tables
        """Type -> language -> words; tried in this order, the first type found wins.
        Required (the words are the desk's); `{}` gives every mail the `default` type."""

        _keywords_ok = field_validator("keywords")(check_tables)

        @model_validator(mode="after")
        def _types(self) -> TicketType.Settings:
            for code in (self.default, *self.keywords):
                if code not in TYPES:
                    raise ValueError(f"unknown type {code!r}; types are {', '.join(TYPES)}")
            return self

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.types = FirstOf.of(settings.keywords)
        self.codes = tuple(t for t in TYPES if t == settings.default or t in settings.keywords)

    def _type(self, mail: Mail) -> tuple[str, str]:
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        found = self.types.first(text)
        if found is not None:
            kind, word = found
            return kind, f"type {kind}: found {word!r}"
        default = self.settings.default
        return default, f"type {default}: no type's words found (the default)"

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """The one type the ticket would get (the default when no type's words stand)."""
        return frozenset({self._type(mail)[0]})

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        return self._verdict(*self._type(mail))

    def _verdict(self, kind: str, detail: str) -> Verdict:
        return Verdict(self.name, Action.annotate, detail=detail, annotations={"type": kind})


RULE = TicketType
