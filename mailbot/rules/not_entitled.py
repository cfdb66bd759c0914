"""not_entitled: services a customer's plan, dates or package do not give (Serwisant, crmonline).

Serwisant gives a free one-hour video training to accounts on trial or in the first 30 days
of a `standard` or `all-in-one` subscription, and one free installation of the client panel
to `all-in-one` (never again once used). crmonline gives phone support, technical services,
troubleshooting and customisation (forms, fields) and training only against a purchased
package of hours, valid one Solar Hijri year from purchase, judged by the package valid
today and its own balance, and offers packages to whoever has no balance left; analysis and
design need a separate contract, arranged through sales, whatever package the customer has.
A request it lets through for a package service is annotated `package_service`: only such
tickets' logged time comes off a package (free support is free). A request for
such a service that the customer's contract does not cover is refused with the reason
(`why`), so the reply can say exactly what is missing: the plan, the period, the unused
once-only service, the package, its validity or its balance.

"Within N days" counts calendar days in the desk's time zone from `plan_since`: a plan that
started N days ago today is still within (a customer counting "30 days from the 10th" ends
on the 10th of next month, and we do not argue over one day); N+1 days ago is over. A
package bought on 1405-01-15 is valid through 1406-01-14 and expired on 1406-01-15; one
bought on Esfand 30 of a leap year expires on Esfand 29 of the next (common) year.

A customer who has the service asked for is not refused, and not answered as if it
reported a fault either: where the regulation says how such a service is booked (Serwisant:
the contact form on the website, or the phone in working hours, the date agreed as the
desk's staff are free), the entitlement's `booking` says it, and the new ticket's
acknowledgement is the `entitlement_booking` reply with those instructions.

A request found only by a weak match (`KeywordSet.strong`: the words of a `...` phrase three
to eight words apart in the body) is not refused either (issue 11): the ticket opens with the
plain acknowledgement and an annotate verdict `possible_not_entitled` whose detail (the
service, the phrase found, the `why`) is an event of the ticket and a line of the agent's
notice mail, for the agent to judge.

Keywords are matched in the subject and the new text, every language at once. New requests
only: inside a ticket the agent already decides what is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from pydantic import Field, field_validator

from mailbot.config import Customer
from mailbot.parse import Mail
from mailbot.prepaid import left_now
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import (
    CODE,
    KeywordSet,
    check_keywords,
    check_phrases,
    keyword_list,
    listed_once,
)

DOUBT = "possible_not_entitled"  # in DOUBT_REASONS
"""The reason of the annotate verdict a weak match of a service the customer lacks gives:
the ticket opens, its history says which service it may ask for (`tickets show`), and so
does the agent's notice mail (the verdict's values: `entitlement`, `why`; `found`, the desk's
phrase that matched; `passage`, the customer's words it matched)."""

BOOKING_REPLY = "entitlement_booking"
"""The template acknowledging an entitled customer's request for a service it books."""

_ONCE_FLAGS = tuple(
    name for name, field in Customer.model_fields.items() if field.annotation is bool
)


class Booking(RuleSettings):
    """How an entitled customer books the service; the acknowledgement says it."""

    form: str = Field(pattern=r"^https?://[^\s/]+\S*$")
    """The address of the web form the service is requested through."""
    phone: str | None = None
    """The phone line that also takes bookings."""
    phone_hours: dict[str, str] = Field(default_factory=dict)
    """Language -> when the phone is answered ("w dni robocze 9:00-16:00")."""
    note: dict[str, str] = Field(default_factory=dict)
    """Language -> what else the reply says (what is agreed before an installation)."""


class Entitlement(RuleSettings):
    name: str = Field(pattern=CODE)
    """Code of the service, given to the reply template as `entitlement`."""
    title: dict[str, str] = Field(min_length=1)
    """Language -> how the reply names the service."""
    keywords: dict[str, list[str]] = Field(min_length=1)
    """Language -> words or phrases asking for it (`*` any ending, `{a,b}` either)."""
    unless: dict[str, list[str]] = Field(default_factory=dict)
    """Language -> words that make a mail free support after all, although it names the
    service (crmonline: "the service is down, fix it" is keeping the service available,
    not the customer's problem): such a mail is not read as asking for it."""
    plans: list[str] = Field(default_factory=list)
    """Plans that include it; empty: any plan (or none)."""
    trial_plans: list[str] = Field(default_factory=list)
    """Plans that count as a trial: they include it, whatever `plans` and `within_days` say."""
    within_days: int | None = Field(None, ge=0)
    """Only within this many days of the customer's `plan_since`."""
    once_flag: str | None = None
    """The customer field that says this once-only service was used up."""
    requires_package: bool = False
    """Needs a prepaid package (crmonline) valid today with hours left of its own; a ticket
    opened for it is annotated `package_service`, so the time logged on it is charged."""
    separate_contract: bool = False
    """Never given against a plan or package: it needs a contract of its own (crmonline's
    analysis and design), so it is refused whatever the customer has, naming `refer_to`."""
    refer_to: dict[str, str] | None = None
    """Language -> who arranges it instead (the sales department)."""
    booking: Booking | None = None
    """How a customer who has it books it: the new ticket is acknowledged with that."""

    _keywords_ok = field_validator("keywords")(check_keywords)
    _unless_ok = field_validator("unless")(check_phrases)

    @field_validator("once_flag")
    @classmethod
    def _flag(cls, value: str | None) -> str | None:
        if value is not None and value not in _ONCE_FLAGS:
            raise ValueError(f"expected a customer yes/no field: {', '.join(_ONCE_FLAGS)}")
        return value


def _why(
    entitlement: Entitlement, customer: Customer | None, today: date, logged_hours: float = 0.0
) -> str | None:
    """Why the customer does not have it, as a `why` code for the template; None if it has."""
    if entitlement.separate_contract:
        return "separate_contract"
    if customer is None:
        return "unknown_customer"
    on_trial = customer.plan is not None and customer.plan in entitlement.trial_plans
    if not on_trial:
        if entitlement.plans and customer.plan not in entitlement.plans:
            return "not_in_plan"
        if entitlement.within_days is not None and (
            customer.plan_since is None
            or (today - customer.plan_since).days > entitlement.within_days
        ):
            return "period_over"
    if entitlement.once_flag is not None and getattr(customer, entitlement.once_flag):
        return "already_used"
    if entitlement.requires_package:
        return left_now(customer.packages, logged_hours, today)
    return None


_EXPLAIN = {
    "unknown_customer": "the sender is no known customer",
    "not_in_plan": "plan {plan!r} does not include it",
    "period_over": "plan {plan!r} since {since} is past {days} days",
    "already_used": "{flag} is set",
    "no_package": "no package",
    "package_expired": "every package has expired (last bought {purchased})",
    "no_balance": "the packages valid today have no hours left",
    "separate_contract": "needs a separate contract, a package is not enough",
}


@dataclass(frozen=True)
class _Asks:
    """An entitlement's words, less the mails its `unless` words make free support."""

    keywords: KeywordSet
    unless: KeywordSet | None

    @classmethod
    def of(cls, entitlement: Entitlement) -> _Asks:
        unless = KeywordSet.of(entitlement.unless) if keyword_list(entitlement.unless) else None
        return cls(KeywordSet.of(entitlement.keywords), unless)

    def matches(self, text: str) -> bool:
        return self.keywords.matches(text) and not (self.unless and self.unless.matches(text))

    def first(self, text: str) -> str | None:
        return self.keywords.first(text)

    def found(self, text: str, *, skip_negated: bool = False, skip_quoted: bool = False) -> bool:
        """As `matches`, passing over a phrase negated in its clause or quoted when asked."""
        asked = self.keywords.found(text, skip_negated=skip_negated, skip_quoted=skip_quoted)
        return bool(asked) and not (self.unless and self.unless.matches(text))

    def passage(
        self, text: str, *, skip_negated: bool = False, skip_quoted: bool = False
    ) -> str | None:
        """The customer's words the match spans (`KeywordSet.passage`)."""
        return self.keywords.passage(text, skip_negated=skip_negated, skip_quoted=skip_quoted)

    def strong(
        self, text: str, subject: str, *, skip_negated: bool = False, skip_quoted: bool = False
    ) -> bool:
        """Whether what `found` found is a strong match (`KeywordSet.strong`)."""
        return self.keywords.strong(
            text, subject, skip_negated=skip_negated, skip_quoted=skip_quoted
        )


class NotEntitled:
    name = "not_entitled"
    reads = frozenset({"hours_logged"})
    description = "a service is asked for that the customer's plan, dates or package do not give"

    class Settings(RuleSettings):
        entitlements: list[Entitlement] = Field(min_length=1)
        """Each service's conditions; every one asked for in the mail is checked, in order."""
        skip_negated: bool = False
        """A phrase right after a negation in its clause ("nie potrzebujemy szkolenia")
        asks for nothing: it is passed over (in Persian also one before a negated verb:
        "نیازی به مشاوره و طراحی نداریم")."""
        wide_matches_refuse: bool = False
        """A `...` phrase found with its words far apart (three to eight words) is a strong
        match too, and refuses: for a verb-final language whose request puts the verb after
        the whole object (crmonline's Persian "یک فیلد «کد ملی» به فرم مشتریان اضافه کنید"),
        where a wide gap is the plain grammar, not a guess. Default: such a match is weak and
        opens the ticket with the doubt for the agent (issue 11)."""
        skip_quoted: bool = False
        """A phrase inside a quoted sentence «...» (five words or more: an earlier answer
        quoted without ">") asks for nothing: it is passed over."""

        portal: str | None = None
        """Where free-support tickets are opened (crmonline's portal): refusals name it."""

        @field_validator("entitlements")
        @classmethod
        def _unique(cls, value: list[Entitlement]) -> list[Entitlement]:
            return listed_once(value, "entitlement")

    def __init__(self, settings: Settings) -> None:
        self.portal = settings.portal
        self.entitlements = [(e, _Asks.of(e)) for e in settings.entitlements]
        self.codes = tuple(e.name for e in settings.entitlements)
        self.skip_negated = settings.skip_negated
        self.skip_quoted = settings.skip_quoted
        self.wide_matches_refuse = settings.wide_matches_refuse

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """Every service the mail asks for, whoever asks."""
        text = _keywords.searchable(mail)
        return frozenset(
            e.name
            for e, keywords in self.entitlements
            if keywords.found(text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted)
        )

    def detect_refused(self, mail: Mail, context: Context) -> frozenset[str]:
        """The services asked for by a strong match only: those a customer without them is
        refused (benchmarks/detection.py's refusal figures)."""
        text = _keywords.searchable(mail)
        subject = _keywords.searchable_subject(mail)
        flags = {"skip_negated": self.skip_negated, "skip_quoted": self.skip_quoted}
        return frozenset(
            e.name
            for e, keywords in self.entitlements
            if keywords.found(text, **flags)
            and (self.wide_matches_refuse or keywords.strong(text, subject, **flags))
        )

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None
        text = _keywords.searchable(mail)
        subject = _keywords.searchable_subject(mail)
        doubt: Verdict | None = None
        today = context.now.astimezone(context.desk.zone).date()
        customer = context.customer
        paid = None
        booked: tuple[Entitlement, str | None] | None = None
        for entitlement, keywords in self.entitlements:
            if not keywords.found(
                text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
            ):
                continue
            why = _why(entitlement, customer, today, context.history.hours_logged)
            if why is None:
                if entitlement.requires_package and paid is None:
                    paid = entitlement.name
                if booked is None and entitlement.booking is not None:
                    booked = (entitlement, keywords.first(text))
                continue
            found = keywords.first(text)
            if not self.wide_matches_refuse and not keywords.strong(
                text, subject, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
            ):
                # a weak match refuses nobody: the ticket opens with the doubt for the agent
                doubt = doubt or Verdict(
                    self.name,
                    Action.annotate,
                    DOUBT,
                    f"{DOUBT}: {entitlement.name} (found {found!r}): {why}",
                    values={
                        "entitlement": entitlement.name,
                        "why": why,
                        "found": found or "",
                        # the customer's words, for the agent's notice
                        "passage": keywords.passage(
                            text, skip_negated=self.skip_negated, skip_quoted=self.skip_quoted
                        )
                        or found
                        or "",
                    },
                )
                continue
            explained = _EXPLAIN[why].format(
                plan=customer.plan if customer else None,
                since=customer.plan_since if customer else None,
                days=entitlement.within_days,
                flag=entitlement.once_flag,
                purchased=max((p.purchased for p in customer.packages), default=None)
                if customer
                else None,
            )
            return Verdict(
                self.name,
                Action.refuse,
                self.name,
                f"asks for {entitlement.name} (found {found!r}): {explained}",
                values={
                    "entitlement": entitlement.name,
                    "entitlement_title": dict(entitlement.title),
                    "why": why,
                    # crmonline's: who arranges a separate contract, where free support is
                    **({"refer_to": dict(entitlement.refer_to)} if entitlement.refer_to else {}),
                    **({"portal": self.portal} if self.portal else {}),
                },
            )
        if booked is not None:
            return self._booking(*booked, paid)
        if doubt is not None:
            return replace(doubt, annotations={"package_service": paid} if paid else {})
        if paid is not None:
            # the time agents log on this ticket comes off the package (prepaid.ledger)
            return Verdict(self.name, Action.annotate, annotations={"package_service": paid})
        return None

    def _booking(self, entitlement: Entitlement, found: str | None, paid: str | None) -> Verdict:
        """An entitled customer's request, acknowledged with how the service is booked."""
        booking = entitlement.booking
        assert booking is not None
        return Verdict(
            self.name,
            Action.annotate,
            BOOKING_REPLY,
            f"asks for {entitlement.name} (found {found!r}), which the customer has",
            annotations={"package_service": paid} if paid else {},
            values={
                "entitlement": entitlement.name,
                "entitlement_title": dict(entitlement.title),
                "booking_form": booking.form,
                "booking_phone": booking.phone,
                "booking_phone_hours": dict(booking.phone_hours),
                "booking_note": dict(booking.note),
            },
            reply=BOOKING_REPLY,
        )


RULE = NotEntitled
