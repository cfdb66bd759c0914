"""rules: the Rule protocol, Verdict, Context, and the runner that applies a desk's rule list.

Pure: a rule sees the parsed Mail and a read-only Context and returns a Verdict or None. It
never does I/O and never writes; whatever it needs to know (desk settings, the customer, the
sender's recent mails, this month's count) arrives in the Context, gathered beforehand by
the pipeline. A new rule is one file here with `RULE = <class>` at the bottom and one name in
a desk's `rules = [...]`; its settings are the desk's `[rule.<name>]` table, validated by the
rule's own `Settings` model at start-up. An unknown name or a bad setting stops start-up.

Rules never import each other: what two of them share (keywords, labelled lines, products,
coupons, archives) is a `_*.py` module here, and whatever a rule derives from configuration
(compiled patterns, word lists, another rule's table) is built once, in `load_rules`.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from mailbot.errors import ConfigError
from mailbot.rules import _keywords

if TYPE_CHECKING:
    from mailbot.config import Customer, DeskSettings
    from mailbot.kb import Hit
    from mailbot.parse import Mail

ANNOTATION_KEYS = (
    "product",
    "type",
    "category",
    "impact",
    "urgency",
    "priority",
    "sla_level",
    "package_service",
)
"""package_service: the prepaid service a crmonline ticket asks for (its time is charged)."""


DOUBT_REASONS = frozenset({"possible_out_of_scope", "possible_not_entitled"})
"""Reasons of annotate verdicts that carry a rule's doubt (a weak keyword match) to the agent:
recorded as an event of the new ticket, under that reason, with the verdict's detail, and
said in the agent's notice of the new ticket (`agent_notice`'s `doubts`: the reason and the
verdict's values)."""


class Action(enum.StrEnum):
    drop = "drop"
    """Recorded, but no ticket and no reply (auto-replies, bounces, lists)."""
    refuse = "refuse"
    """Quarantined with its reason (a human may release it); the sender is told why."""
    ask = "ask"
    """A ticket is opened waiting for the customer, who is asked for what is missing."""
    annotate = "annotate"
    """Facts for the ticket (product, priority...); processing goes on."""


@dataclass(frozen=True)
class Verdict:
    rule: str
    action: Action
    reason: str = ""
    """A reason code from the public list (auto_reply, oversized, duplicate...)."""
    detail: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Any] = field(default_factory=dict)
    """What the reply template needs to say exactly what was wrong (a file name, a contact)."""
    missing: tuple[str, ...] = ()
    ticket: str | None = None
    """For `duplicate`: the ticket this mail repeats."""
    reply: str | None = None
    """An `annotate` verdict's own acknowledgement of a new ticket, written with this template
    instead of `ack`, given `values`: what the rule found that the customer must hear of (one
    problem per request; an entitled customer's booking of a service is told how to book)."""

    @property
    def stops(self) -> bool:
        return self.action in (Action.drop, Action.refuse)

    @property
    def doubts(self) -> bool:
        """An annotate verdict of a rule that found its topic only weakly (`possible_...`):
        it refuses nobody, and the ticket's history tells the agent what it may be about."""
        return self.action == Action.annotate and self.reason in DOUBT_REASONS


@dataclass(frozen=True)
class RecentMail:
    ticket: str
    fingerprint: str
    received_at: datetime


@dataclass(frozen=True)
class Thread:
    """The ticket a mail continues, as far as rules care."""

    number: str
    state: str
    missing: tuple[str, ...]
    text_so_far: str
    """The customer's earlier messages on this ticket, oldest first."""
    attachments_so_far: tuple[str, ...] = ()
    """Sniffed types of attachments the customer sent earlier on this ticket."""


HISTORY_FACTS = frozenset({"duplicates", "month_count", "hours_logged"})
"""What a rule may ask the pipeline to read for it, by naming it in its `reads` attribute:
duplicates (ticket_with_message_id, recent_from_sender), month_count (requests_this_month),
hours_logged. Facts no rule of the desk reads are not read (each is a query per mail)."""


def facts_read_by(rules: Sequence[Rule]) -> frozenset[str]:
    return frozenset().union(*(getattr(rule, "reads", frozenset()) for rule in rules))


@dataclass(frozen=True)
class History:
    """Facts from the store, read before the rules run (rules themselves read nothing)."""

    ticket_with_message_id: str | None = None
    """A ticket of this desk that already holds a mail with this Message-ID."""
    recent_from_sender: tuple[RecentMail, ...] = ()
    """This sender's mails on this desk within the duplicate window, newest first."""
    requests_this_month: int = 0
    """Tickets this customer opened on this desk in the current calendar month (desk time)."""
    hours_logged: float = 0.0
    """Working time charged to the customer's packages valid now (prepaid.ledger): time
    logged under an expired package, or on a free-support ticket, is not in it."""
    thread: Thread | None = None


@dataclass(frozen=True)
class Context:
    desk: DeskSettings
    envelope_from: str | None
    """SMTP MAIL FROM: '' is the null path <> (a bounce); None when unknown (file ingest)."""
    now: datetime
    customer: Customer | None = None
    identified_by: str | None = None
    """'contact' (a known address), 'domain', 'contract' (a stranger who gave the company name
    and one of its contract numbers: the address is not confirmed), 'confirmed' (an address an
    agent confirmed after such an identification: the customer's, as a contact is, but not
    in the desk file), or None when unknown."""
    mail_language: str | None = None
    """The language the mail is written in; detected only for desks with reply_language "mail"."""
    history: History = field(default_factory=History)
    articles: tuple[Hit, ...] = ()
    """Knowledge-base articles relevant to this mail, in the reply's language, best first:
    searched by the pipeline (rules read no index), empty when none is relevant enough."""

    @property
    def is_new_request(self) -> bool:
        return self.history.thread is None


class Rule(Protocol):
    name: str
    description: str

    def check(self, mail: Mail, context: Context) -> Verdict | None: ...


@runtime_checkable
class Detector(Protocol):
    """A rule that guesses from the wording (topics, services, fields) also says what it
    recognises, whatever it would decide: `detect` returns the codes found (exclusion or
    entitlement names, the fields a request holds...). The labelled sets in tests/labelled/
    measure precision and recall on these codes (benchmarks/detection.py), so a guess is
    measured apart from the decision built on it."""

    name: str
    codes: tuple[str, ...]
    """Every code `detect` may return: each needs its labelled mails and its figures."""

    def detect(self, mail: Mail, context: Context) -> frozenset[str]: ...


class RuleSettings(BaseModel):
    """Base of each rule's Settings: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Judgement:
    verdicts: tuple[Verdict, ...]

    @property
    def stopping(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.stops), None)

    @property
    def asking(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.action == Action.ask), None)

    @property
    def replying(self) -> Verdict | None:
        """The verdict whose own reply acknowledges a new ticket (none: the plain `ack`)."""
        return next((v for v in self.verdicts if v.reply is not None), None)

    @property
    def annotations(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for verdict in self.verdicts:
            merged.update(verdict.annotations)
        return merged


def compile_patterns() -> int:
    """Compile the keyword patterns `load_rules` left to their first mail (`_keywords.Lazy`):
    a worker does it before it claims anything; how many were compiled."""
    return _keywords.compile_all()


def load_rules(desk: DeskSettings, source: Path | str = "desk") -> tuple[Rule, ...]:
    """Build the desk's rules, in order, each with its validated `[rule.<name>]` settings.

    Everything a rule reads from configuration is parsed here, once, not per mail. A rule
    that needs more of its desk than its own table (the customers' coupons, the product
    table `missing_fields` shares with `product`) is built by `RULE.for_desk(desk)` or
    `RULE.for_desk(desk, settings)`; that runs after every rule's table was validated, so it
    may read another rule's table knowing it is valid.
    """
    validated = [_settings(desk, name, source) for name in desk.rules]
    extra = sorted(set(desk.rule) - set(desk.rules))
    if extra:
        raise ConfigError(f"{source}: rule.{extra[0]}: settings for a rule not in `rules`")
    rules = []
    for factory, settings in validated:
        for_desk = getattr(factory, "for_desk", None)
        try:
            if settings is None:
                rules.append(for_desk(desk) if for_desk else factory())
            else:
                rules.append(for_desk(desk, settings) if for_desk else factory(settings))
        except ValueError as exc:  # a setting only the rest of the desk can judge
            raise ConfigError(f"{source}: rule.{factory.name}: {exc}") from exc
    return tuple(rules)


def _settings(desk: DeskSettings, name: str, source: Path | str) -> tuple[Any, RuleSettings | None]:
    """The rule's factory and its validated settings (None for a rule that takes none)."""
    if not name.isidentifier():
        raise ConfigError(f"{source}: rules: {name!r} is not a rule name")
    try:
        module = importlib.import_module(f"mailbot.rules.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"mailbot.rules.{name}":
            raise  # the rule exists but something it imports is missing: say that
        raise ConfigError(
            f"{source}: rules: unknown rule {name!r} (no mailbot/rules/{name}.py)"
        ) from exc
    factory = getattr(module, "RULE", None)
    if factory is None:
        raise ConfigError(f"{source}: rules: mailbot/rules/{name}.py defines no RULE")
    settings_model: type[RuleSettings] | None = getattr(factory, "Settings", None)
    raw = desk.rule.get(name, {})
    if settings_model is None:
        if raw:
            raise ConfigError(f"{source}: rule.{name}: this rule takes no settings")
        return factory, None
    try:
        return factory, settings_model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        elif first["type"] == "missing":
            msg += ": the desk file must give it (there is no built-in default)"
        raise ConfigError(f"{source}: rule.{name}.{key}: {msg}") from exc


def run(rules: Sequence[Rule], mail: Mail, context: Context, skip: Sequence[str] = ()) -> Judgement:
    """Apply rules in the desk's order; the first drop or refusal ends the run.

    `skip` names rules an admin overrode when releasing a quarantined mail with --force.
    """
    verdicts: list[Verdict] = []
    for rule in rules:
        if rule.name in skip:
            continue
        verdict = rule.check(mail, context)
        if verdict is None:
            continue
        verdicts.append(verdict)
        if verdict.stops:
            break
    return Judgement(tuple(verdicts))
