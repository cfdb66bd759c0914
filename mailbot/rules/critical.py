"""critical: requests to restore the system or a module jump the queue (CleverBox, seed 004).

CleverBox works its requests first in, first out, "except highly critical ones, which need
urgent intervention: restoring the system or individual modules of it". Nobody labels such a
mail; the customer writes "вся система не открывается, восстановите" or "модуль складу
зник". The desk lists the wordings of that situation per language (the whole system down,
a module gone, a request to restore either); found in the subject or the new text, the
ticket gets the priority this rule gives (`priority`, "critical" by default), which the
queue puts first and an `[[sla.targets]]` entry with that priority gives its deadlines.

Near misses are many ("восстановить пароль", "не открывается один отчёт", "восстановите
удалённую сделку"): the keywords must name the system or a module being down or gone, not
any "restore". `unless` lists wordings that undo a match in the same sentence ("у остальных
всё работает": one user's trouble, not the system's); `resolved` wordings anywhere in the mail
tell the outage as over ("вчера CRM лежала, сейчас всё работает"): nothing to restore. A
miss costs little (the ticket is ordinary, an agent may still raise it); a false hit puts a
password question ahead of everyone, so the words stay specific.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import CODE, KeywordSet, check_keywords, check_phrases


class Critical:
    name = "critical"
    description = "a request to restore the system or a module: a critical priority"

    class Settings(RuleSettings):
        keywords: dict[str, list[str]]
        """Language -> wordings of the system or a module down, gone, or to be restored
        (`*` any ending, `{a,b}` either). Required: the words are the desk's."""
        unless: dict[str, list[str]] = Field(default_factory=dict)
        """Language -> wordings that, in the same sentence as a match, say it is not the whole
        system or module ("у остальных всё работает")."""
        resolved: dict[str, list[str]] = Field(default_factory=dict)
        """Language -> wordings that, anywhere in the mail, tell the outage as over ("сейчас
        всё работает", "вже запрацювало"): the customer asks why, not for a restore. None by
        default (every match counts)."""
        priority: str = Field("critical", pattern=CODE)
        """The priority annotation given; `[[sla.targets]] priority = ...` gives its deadlines."""

        _keywords_ok = field_validator("keywords")(check_keywords)
        _unless_ok = field_validator("unless", "resolved")(check_phrases)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keywords = KeywordSet.of(settings.keywords)
        self.unless = KeywordSet.of(settings.unless)
        self.resolved = KeywordSet.of(settings.resolved)
        self.codes = (settings.priority,)

    def _found(self, text: str) -> str | None:
        if self.resolved.matches(text):
            return None  # an outage that is over: no restore to put first
        return _keywords.first_standing(text, self.keywords, self.unless)

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        return frozenset(self.codes) if self._found(text) is not None else frozenset()

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None  # a follow-up does not change the ticket's priority
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        word = self._found(text)
        if word is None:
            return None
        priority = self.settings.priority
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"priority {priority}: found {word!r}",
            annotations={"priority": priority},
        )


RULE = Critical
