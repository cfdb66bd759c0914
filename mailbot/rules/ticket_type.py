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

from pydantic import Field, field_validator, model_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import Tables, check_tables

TYPES = ("request", "incident", "problem", "change")


def _default_keywords() -> Tables:
    return {
        "change": {
            "sk": [
                "požiadavk* na zmen*",
                "poziadavk* na zmen*",
                "žiadosť o zmen*",
                "ziadost o zmen*",
                "zmenov* požiadav*",
                "prosím o úprav*",
                "prosíme o úprav*",
                "chceli by sme zmeniť",
                "potrebujeme zmeniť",
                "potrebujeme upraviť",
                "nov* funkci*",
                "doplniť funkci*",
            ],
            "cs": [
                "požadav* na změn*",
                "žádost o změn*",
                "změnov* požadav*",
                "chtěli bychom změnit",
                "potřebujeme změnit",
                "potřebujeme upravit",
                "nov* funkc*",
            ],
            "en": [
                "change request",
                "request for change",
                "please change",
                "could you change",
                "we would like to change",
                "new feature",
                "feature request",
            ],
        },
        "problem": {
            "sk": [
                "opakovan*",
                "opakuj* sa",
                "znova a znova",
                "stále dokola",
                "zakaždým",
                "každý deň",
                "každé ráno",
                "príčin*",
                "znovu sa",
                "opäť nefunguj*",
                "opäť padá",
                "opäť chyb*",
                "zase nefunguj*",
            ],
            "cs": ["opakovaně", "opakuje se", "znovu a znovu", "pořád dokola", "příčin*", "zase"],
            "en": [
                "recurring",
                "again and again",
                "keeps happening",
                "keeps failing",
                "every time",
                "each time",
                "root cause",
                "repeatedly",
                "intermittent*",
                "once again",
            ],
        },
        "incident": {
            "sk": [
                "nefunguj*",
                "nejde",
                "nejdú",
                "chyb*",
                "padá",
                "spadol",
                "spadla",
                "spadlo",
                "výpadok",
                "vypadok",
                "nedostupn*",
                "nemôž*",
                "nemoz*",
                "zlyh*",
                "havári*",
                "nereaguj*",
                "zamrz*",
                "nenačít*",
            ],
            "cs": ["nefunguje", "nejde", "chyba", "chybu", "spadl*", "výpadek", "nelze", "nemůž*"],
            "en": [
                "not working",
                "doesn't work",
                "does not work",
                "broken",
                "error",
                "fails",
                "failed",
                "failing",
                "is down",
                "outage",
                "crash*",
                "cannot",
                "can't",
                "unable",
                "unavailable",
            ],
        },
        "request": {
            "sk": ["otázk*", "dotaz*", "ako nastaviť", "ako sa", "prosím o informáci*", "prístup*"],
            "cs": ["dotaz*", "jak nastavit", "prosím o informac*", "přístup*"],
            "en": ["question", "how to", "how do i", "how can i", "access", "new user"],
        },
    }


class TicketType:
    name = "ticket_type"
    description = "the ITIL type of the request: request, incident, problem or change"

    class Settings(RuleSettings):
        default: str = "request"
        """The type when no word of any type is found."""
        keywords: Tables = Field(default_factory=_default_keywords)
        """Type -> language -> words; tried in this order, the first type found wins."""

        _keywords_ok = field_validator("keywords")(check_tables)

        @model_validator(mode="after")
        def _types(self) -> TicketType.Settings:
            for code in (self.default, *self.keywords):
                if code not in TYPES:
                    raise ValueError(f"unknown type {code!r}; types are {', '.join(TYPES)}")
            return self

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        found = _keywords.first_of(text, self.settings.keywords)
        if found is not None:
            kind, word = found
            return self._verdict(kind, f"type {kind}: found {word!r}")
        default = self.settings.default
        return self._verdict(default, f"type {default}: no type's words found (the default)")

    def _verdict(self, kind: str, detail: str) -> Verdict:
        return Verdict(self.name, Action.annotate, detail=detail, annotations={"type": kind})


RULE = TicketType
