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
`valid_until` day in the desk's time zone; `_coupons` decides, for this rule and for the
`sla_level` annotation alike.

New requests only: an agent who is already talking about something in a ticket decides on
the customer's answers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._coupons import Coupons
from mailbot.rules._keywords import (
    CODE,
    KeywordSet,
    check_keywords,
    check_phrases,
    first_standing,
    listed_once,
)


class Exclusion(RuleSettings):
    name: str = Field(pattern=CODE)
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
        unless: dict[str, list[str]] = Field(default_factory=dict)
        """Language -> wordings that take an exclusion's match back in the same sentence:
        the customer says it is not what they ask ("консультация по учету нам не нужна").
        None by default (every match counts, as before)."""

        _unless_ok = field_validator("unless")(check_phrases)

        @field_validator("exclusions")
        @classmethod
        def _unique(cls, value: list[Exclusion]) -> list[Exclusion]:
            return listed_once(value, "exclusion")

    def __init__(self, settings: Settings, coupons: Coupons) -> None:
        self.exclusions = [(e, KeywordSet.of(e.keywords)) for e in settings.exclusions]
        self.codes = tuple(e.name for e in settings.exclusions)
        self.unless = KeywordSet.of(settings.unless)
        self.coupons = coupons

    @classmethod
    def for_desk(cls, desk: DeskSettings, settings: Settings) -> OutOfScope:
        return cls(settings, Coupons(desk.customers))

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """Every exclusion whose words stand in the mail, coupons or not."""
        text = _keywords.searchable(mail)
        return frozenset(
            e.name
            for e, keywords in self.exclusions
            if first_standing(text, keywords, self.unless) is not None
        )

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None
        text = _keywords.searchable(mail)
        for exclusion, keywords in self.exclusions:
            found = first_standing(text, keywords, self.unless)
            if found is None:
                continue
            level = exclusion.unless_sla_level
            if level is not None and self.coupons.check(mail, context).level == level:
                continue
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
