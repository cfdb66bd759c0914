"""out_of_scope: topics a regulation excludes from support (Serwisant, cloudempiere, CleverBox).

Each desk lists its exclusions in order, with keywords per language; the first one found in
the subject or in what the customer newly wrote by a strong match (`KeywordSet.strong`)
refuses the request, and the reply names the exclusion and, where the regulation says so,
who to ask instead (CleverBox sends hosting questions to the hosting provider).

A rule that is unsure never refuses (issue 11): an exclusion found only weakly (the words of
a `...` phrase three to eight words apart in the body) gives an annotate verdict,
`possible_out_of_scope`, whose detail ("possible_out_of_scope: data_operations (found
'...')") becomes an event of the new ticket: the customer gets the plain acknowledgement
and the agent reads the doubt in the notice mail and in `tickets show`, with the customer's
words that matched. A later exclusion found strongly, or another rule's refusal, still
refuses. `detect` finds every match, weak or strong (what the detection benchmark
measures); `detect_refused` the strong ones alone.

Quoted history and signatures are not read: a customer
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

An exclusion never refuses the very service a customer is entitled to ask for: the free
installation of Serwisant's client panel happens on the customer's own server, which is what
the "own hosting" exclusions name. An exclusion lists such services (`unless_entitlement`,
entitlements of the desk's `not_entitled` rule) and yields to a mail asking for one of them,
whoever sends it: `not_entitled` then decides, and a customer who is not entitled is told
why (not in the plan, already used), not that hosting is out of scope. The words that ask
for a service are read from `not_entitled`'s table by `_entitlements`, so both rules see
the same request the same way without importing each other.

New requests only: an agent who is already talking about something in a ticket decides on
the customer's answers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from pydantic import Field, field_validator

from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._coupons import Coupons
from mailbot.rules._entitlements import asked_for
from mailbot.rules._keywords import (
    CODE,
    KeywordSet,
    check_keywords,
    check_phrases,
    first_standing,
    listed_once,
)

DOUBT = "possible_out_of_scope"  # in DOUBT_REASONS
"""The reason of the annotate verdict a weak match gives: the ticket opens, its history says
which exclusion the mail may be about (`tickets show`), and the agent's notice mail says it
(the verdict's values: `exclusion`; `found`, the desk's phrase that matched; `passage`, the
customer's words it matched)."""


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
    unless_entitlement: list[str] = Field(default_factory=list)
    """Entitlements of the desk's `not_entitled` rule this exclusion yields to: a mail asking
    for one of them is that rule's to judge, not this exclusion's."""

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
        skip_negated: bool = False
        """A phrase right after a negation in its clause ("we do NOT want to delete")
        names no request: it is passed over (in Persian also one before a negated verb:
        "به کارشناس حضوری نیازی نداریم")."""
        wide_matches_refuse: bool = False
        """A `...` phrase found with its words far apart (three to eight words) is a strong
        match too, and refuses: for a verb-final language whose request puts the verb after
        the whole object (crmonline's Persian "یک فیلد «کد ملی» به فرم مشتریان اضافه کنید"),
        where a wide gap is the plain grammar, not a guess. Default: such a match is weak and
        opens the ticket with the doubt for the agent (issue 11)."""
        skip_quoted: bool = False
        """A phrase inside a quoted sentence «...» (five words or more: an earlier answer
        quoted without ">") names no request: it is passed over."""

        @field_validator("exclusions")
        @classmethod
        def _unique(cls, value: list[Exclusion]) -> list[Exclusion]:
            return listed_once(value, "exclusion")

    def __init__(
        self,
        settings: Settings,
        coupons: Coupons,
        entitlements: Mapping[str, KeywordSet] | None = None,
    ) -> None:
        known = entitlements or {}
        self.exclusions = []
        for i, e in enumerate(settings.exclusions):
            for name in e.unless_entitlement:
                if name not in known:
                    raise ValueError(
                        f"exclusions[{i}].unless_entitlement: {name!r} is no entitlement of "
                        f"this desk's not_entitled rule (known: {', '.join(known) or 'none'})"
                    )
            yields = tuple(known[name] for name in e.unless_entitlement)
            self.exclusions.append((e, KeywordSet.of(e.keywords), yields))
        self.codes = tuple(e.name for e in settings.exclusions)
        self.unless = KeywordSet.of(settings.unless)
        self.coupons = coupons
        self.skip_negated = settings.skip_negated
        self.skip_quoted = settings.skip_quoted
        self.wide_matches_refuse = settings.wide_matches_refuse

    @classmethod
    def for_desk(cls, desk: DeskSettings, settings: Settings) -> OutOfScope:
        return cls(settings, Coupons(desk.customers), asked_for(desk))

    def _found(
        self, text: str, subject: str = ""
    ) -> Iterator[tuple[Exclusion, KeywordSet, str, bool]]:
        """The exclusions whose words stand in `text`, each with its keywords, the phrase
        found and whether the match is strong (`KeywordSet.strong`: `subject` is where any
        phrase is strong): not taken back by an `unless` wording in its sentence, nor (with
        `skip_negated`) negated, nor the very service the mail asks for (`unless_entitlement`)."""
        for exclusion, keywords, yields in self.exclusions:
            if not keywords.found(
                text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
            ):
                continue
            found = first_standing(text, keywords, self.unless)
            if found is None or any(
                asked.found(text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted)
                for asked in yields
            ):
                continue
            strong = self.wide_matches_refuse or keywords.strong(
                text, subject, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
            )
            yield exclusion, keywords, found, strong

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """Every exclusion whose words stand in the mail, coupons or not, weak or strong."""
        text = _keywords.searchable(mail)
        return frozenset(e.name for e, _, _, _ in self._found(text))

    def detect_refused(self, mail: Mail, context: Context) -> frozenset[str]:
        """The exclusions found by a strong match only: those the rule would refuse for
        (coupons aside), for benchmarks/detection.py's refusal figures."""
        text = _keywords.searchable(mail)
        subject = _keywords.searchable_subject(mail)
        return frozenset(e.name for e, _, _, strong in self._found(text, subject) if strong)

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None
        text = _keywords.searchable(mail)
        subject = _keywords.searchable_subject(mail)
        doubt: Verdict | None = None
        for exclusion, keywords, found, strong in self._found(text, subject):
            level = exclusion.unless_sla_level
            if level is not None and self.coupons.check(mail, context).level == level:
                continue
            if not strong:
                # a weak match refuses nobody: the ticket opens, the agent reads the doubt;
                # a later exclusion matched strongly still refuses
                doubt = doubt or Verdict(
                    self.name,
                    Action.annotate,
                    DOUBT,
                    f"{DOUBT}: {exclusion.name} (found {found!r})",
                    values={
                        "exclusion": exclusion.name,
                        "found": found,
                        # the customer's words, for the agent's notice
                        "passage": keywords.passage(
                            text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
                        )
                        or found,
                    },
                )
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
        return doubt


RULE = OutOfScope
