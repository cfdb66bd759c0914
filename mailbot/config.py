"""config: TOML -> typed, validated settings. Touches nothing but the files it reads.

A bad file stops start-up with one line naming the file, the key and what was expected,
because an operator reading a service log has only that line to go on.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mailbot.errors import ConfigError

if TYPE_CHECKING:
    from mailbot.business_time import Calendar

DEFAULT_CONFIG = Path("config/mailbot.toml")
ENV_CONFIG = "MAILBOT_CONFIG"
ENV_DATABASE_URL = "MAILBOT_DATABASE_URL"
ENV_RELAY_URL = "MAILBOT_RELAY_URL"


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = "sqlite:///var/mailbot.db"
    """SQLAlchemy URL. sqlite:///relative/path is relative to the config file's project root."""


class SpoolSettings(_Strict):
    path: Path = Path("var/spool")
    max_attempts: int = Field(3, ge=1)
    """Tries before an item that keeps failing is quarantined with reason processing_error."""


class _Listening(_Strict):
    """Settings with a `listen = "host:port"` key: the one reading of it."""

    listen: str

    @staticmethod
    def _parse_listen(value: str, example: str) -> tuple[str, int]:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, e.g. {example}")
        return host.strip("[]"), int(port)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class SmtpSettings(_Listening):
    listen: str = "127.0.0.1:2525"
    max_message_size: int = Field(26_214_400, ge=1024)
    hostname: str = "mailbot.localhost"
    max_sessions: int = Field(200, ge=1)
    """Open sessions in all; one more is told 421 and closed (file handles are finite)."""
    max_sessions_per_client: int = Field(20, ge=1)
    """Open sessions per client address, so one client cannot take all `max_sessions`."""
    idle_timeout_seconds: float = Field(120.0, gt=0)
    """A client silent this long (between commands, or mid-DATA) is disconnected."""
    session_max_seconds: float = Field(600.0, gt=0)
    """A session's whole life: a NOOP now and then must not hold a session forever."""
    store_wait_seconds: float = Field(10.0, gt=0)
    """How long storing a received mail may wait for the database's writer lock before the
    sender is told 451 (try later), so a stuck lock holder cannot freeze the receiver."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        cls._parse_listen(value, "127.0.0.1:2525")
        return value


class RelaySettings(_Strict):
    host: str
    port: int = Field(25, gt=0, lt=65536)
    tls: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = None
    timeout: float = Field(30.0, gt=0)
    ca_file: Path | None = None
    """Trust this CA (PEM) for the relay's certificate, e.g. a company CA; system CAs otherwise."""


class OutboundSettings(_Strict):
    relay: RelaySettings | None = None
    """When no relay is set, replies are written to the maildir instead of being sent."""
    maildir: Path = Path("var/sent")
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)


class WorkerSettings(_Strict):
    processes: int = Field(1, ge=0, le=64)
    """`mailbot worker` processes that serve starts; 0 runs the pipeline in serve's process
    (for debugging: a thread cannot be stopped, so `item_time_limit` does not apply there)."""
    item_time_limit: float = Field(30.0, gt=0, le=3600)
    """Seconds one spool item may take in a worker process. A hostile mail (a quadratic
    decoder, a pathological attachment) must not hold up the mail behind it: serve stops the
    worker, charges the item one attempt (quarantine `processing_error` after
    `spool.max_attempts`) and starts another worker at once."""


_DURATION = re.compile(r"(\d+)\s*([dhm])")


def _duration(value: Any) -> Any:
    """ "24h", "90m", "2d", "1d12h": how people write an age; anything else is an error
    that shows the expected form (pydantic's own ISO 8601 form, PT24H, would be a riddle)."""
    if not isinstance(value, str):
        raise ValueError("expected a duration like 24h, 90m or 2d")
    text = value.strip().lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("expected a duration like 24h, 90m or 2d")
    unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
    total = sum((int(n) * unit[u] for n, u in parts), timedelta(0))
    if total <= timedelta(0):
        raise ValueError("expected a duration longer than zero, like 24h")
    return total


Age = Annotated[timedelta, BeforeValidator(_duration)]
"""A duration written "24h", "90m", "2d" or "1d12h" in the TOML files."""


class IntakeSettings(_Strict):
    old_mail_after: Age = timedelta(hours=24)
    """A mail that arrived longer ago than this when it is taken in (a mailbox read after an
    outage, `ingest` of last week's mail) gets no automatic reply: see outcomes.Plan.too_late.
    A desk may set its own `old_mail_after`."""


class MetricsSettings(_Listening):
    """`serve`'s optional HTTP port for Prometheus (/metrics) and supervisors (/health)."""

    listen: str = ""
    """host:port to serve on, e.g. 127.0.0.1:9108; empty (the default): no HTTP port. The
    figures name desks, customers' refusals and mailboxes, so the host must be a loopback
    address (127.0.0.1, ::1, localhost): put a proxy in front to publish it further."""
    stuck_after: Age = timedelta(minutes=5)
    """/health and `mailbot status --check` fail when mail waited this long unprocessed in
    the spool, or a reply was due this long and not sent."""

    @field_validator("listen")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if not value:
            return value
        import ipaddress

        host, _ = cls._parse_listen(value, "127.0.0.1:9108, or empty for none")
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("expected a loopback host (127.0.0.1, ::1 or localhost)")
        return value


class ImapMailbox(_Strict):
    """One mailbox the IMAP poller reads ([[imap]] tables); see ingest/imap.py."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    """Names the mailbox in logs, in `mailbot poll --mailbox` and in the database."""
    url: str
    """imaps://user@host:993/Folder (TLS), or imap://user@host:143/Folder (STARTTLS when the
    server offers it, else plain); an @ in the user name is written %40."""
    desk: str | None = None
    """Every mail of this mailbox goes to this desk; else it is routed by its recipients."""
    password_env: str = "MAILBOT_IMAP_PASSWORD"
    """The environment variable holding the password (unless password_file is set)."""
    password_file: Path | None = None
    """A file holding the password (relative paths count from the project root)."""
    after: str = Field("seen", pattern=r"^(seen|move:.+)$")
    """What is done to a message once its outcome is committed: "seen" flags it \\Seen plus
    the keyword $MailbotTaken; "move:Folder" moves it to Folder (created when missing)."""
    batch: int = Field(200, ge=1, le=5000)
    """Messages fetched, spooled and marked per round."""
    poll_interval: float = Field(60.0, gt=0)
    """Seconds between looks at a server without IDLE (and between IDLE renewals)."""
    tls_verify: bool = True
    """False accepts any certificate: only for a test server with a self-signed one."""
    idle: bool = True
    """Use IMAP IDLE where the server offers it (new mail is seen at once)."""

    @field_validator("url")
    @classmethod
    def _imap_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ValueError(
                "expected imaps://user@host[:port]/Folder or imap://user@host[:port]/Folder"
            )
        if parts.password is not None:
            raise ValueError(
                "the URL holds a password: put it in the environment (password_env) or a"
                " file (password_file), never in the configuration"
            )
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from exc
        return value

    @property
    def tls(self) -> Literal["ssl", "starttls"]:
        """imaps: TLS from the first byte; imap: STARTTLS when offered."""
        return "ssl" if urlsplit(self.url).scheme == "imaps" else "starttls"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (993 if self.tls == "ssl" else 143)

    @property
    def username(self) -> str:
        return unquote(urlsplit(self.url).username or "")

    @property
    def folder(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/")) or "INBOX"

    @property
    def move_to(self) -> str | None:
        """The folder processed mail is moved to, or None when it stays (after = "seen")."""
        return self.after.partition(":")[2] if self.after.startswith("move:") else None


class AgentMailSettings(_Strict):
    """The secret that signs agents' Reply-To addresses (support+CBX-000042.sig@desk).

    Secrets are read from the environment variable `secret_env` when it is set, else from
    `secret_file`, which mailbot creates (mode 0600, one random secret) on first use, so
    `make run` needs nothing configured. One secret per line or comma: the first signs, every
    one verifies, so a rotation adds the new secret first and drops the old one later."""

    secret_env: str = "MAILBOT_AGENT_SECRETS"
    secret_file: Path = Path("var/agent-secrets")


class LoggingSettings(_Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


def _address(value: str) -> str:
    local, at, domain = value.strip().lower().rpartition("@")
    if not at or not local or "." not in domain:
        raise ValueError(f"expected e-mail addresses like support@example.com, got {value!r}")
    return f"{local}@{domain}"


class Coupon(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{3,63}$")
    valid_until: date


class Package(_Strict):
    """Prepaid hours (crmonline): valid one Solar Hijri year from `purchased`, never after.

    A customer buys a new one each year (or sooner, when the hours run out): `packages`
    lists them all, because time logged is charged to the package valid when the work was
    done, and an old package's hours must not vanish from the history.
    """

    hours: float = Field(gt=0)
    purchased: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    """The purchase date as the contract writes it, Solar Hijri (e.g. 1405-01-15)."""
    used_hours: float = Field(0.0, ge=0)


_WORKING_DAYS = re.compile(r"^\s*([1-9]\d{0,2})\s+working\s+days?\s*$")


def working_days(target: object) -> int | None:
    """`"2 working days"` -> 2: a target counted in whole working days, as customers count
    "within 24 to 48 h" (the same clock time the next working day); None for other targets."""
    if not isinstance(target, str):
        return None
    match = _WORKING_DAYS.match(target)
    return int(match.group(1)) if match else None


def _check_target(value: float | str) -> float | str:
    if isinstance(value, str):
        if value != "same_working_day" and working_days(value) is None:
            raise ValueError(
                f"{value!r} is no deadline: give working hours (a number, e.g. 24), "
                '"same_working_day", or whole working days ("1 working day", "2 working days")'
            )
        return value.strip()
    if value <= 0:
        raise ValueError(f"{value} working hours is no deadline: give a number above 0")
    return value


Hours = Annotated[float | str, AfterValidator(_check_target)]
"""A deadline: working hours (24), "same_working_day" (by the end of the day's working
hours), or "N working day(s)" (the same clock time N working days later)."""


class CalendarSettings(_Strict):
    """Working time: hours per weekday, public holidays of a country, dates added or removed."""

    timezone: str | None = None
    """The desk's time zone when unset."""
    hours: dict[str, str | list[str]] | None = None
    """{"mon-fri" = "09:00-16:00"}; several intervals a day as a list; "sat-wed" wraps."""
    country: str | None = None
    """Public holidays of this country (ISO code: PL, SK, RU, UA, IR) are days off."""
    subdivision: str | None = None
    add: list[date] = Field(default_factory=list)
    """Extra days off."""
    remove: list[date] = Field(default_factory=list)
    """Holidays worked nevertheless."""
    always: bool = False
    """24/7: every moment is working time."""

    def build(self, name: str, desk_timezone: str) -> Calendar:
        """The calendar itself (business_time.Calendar); raises ValueError naming the bad value."""
        from mailbot.business_time import Calendar

        return Calendar.from_config(
            timezone=self.timezone or desk_timezone,
            hours=self.hours,
            country=self.country,
            subdivision=self.subdivision,
            add=self.add,
            remove=self.remove,
            always=self.always,
            name=name,
        )


class SlaTarget(_Strict):
    """Deadlines for the tickets this target matches (every key given must equal the
    ticket's annotation); the first matching target of the customer, then of the desk, wins."""

    level: str | None = None
    priority: str | None = None
    category: str | None = None
    type: str | None = None
    product: str | None = None
    calendar: str | None = None
    """A calendar of the desk; the desk's [sla] calendar when unset."""
    first_response: Hours | None = None
    """Working hours until the first answer, "same_working_day" or "N working days"; none: no
    target."""
    resolution: Hours | None = None

    def matches(self, annotations: Mapping[str, str | None]) -> bool:
        keys = ("level", "priority", "category", "type", "product")
        given = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        field = {"level": "sla_level"}
        return all(annotations.get(field.get(k, k)) == v for k, v in given.items())


class SlaSettings(_Strict):
    calendar: str
    """The calendar targets count on unless they name another."""
    targets: list[SlaTarget] = Field(min_length=1)
    warn_at: float = Field(0.8, gt=0, lt=1)
    """Share of a target after which the desk's agents are warned."""
    max_resolution_hours: float | None = Field(None, gt=0)
    """The most working hours from arrival a resolution target may reach, however many
    extensions (CleverBox: 24 h, extendable to 72 h at most); unset: no cap."""

    @model_validator(mode="after")
    def _targets_within_cap(self) -> SlaSettings:
        cap = self.max_resolution_hours
        for target in self.targets:
            hours = target.resolution
            if cap is not None and isinstance(hours, float | int) and hours > cap:
                raise ValueError(
                    f"a target's resolution ({hours:g} h) is over max_resolution_hours ({cap:g})"
                )
        return self


_LOOKALIKES = str.maketrans("авсенкмортхіуАВСЕНКМОРТХІУ", "abcehkmoptxiyABCEHKMOPTXIY")
"""Cyrillic letters that look Latin: a contract number "СВ-2024-117" typed on a Cyrillic
keyboard is the number "CB-2024-117"."""


def contract_key(number: str) -> str:
    """A contract number as it is compared: Cyrillic look-alikes as Latin, case folded, only
    its letters and digits ("CB-2024-117", "cb 2024/117" and "СВ2024117" are one number)."""
    return "".join(c for c in number.translate(_LOOKALIKES).casefold() if c.isalnum())


SERVICE_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def service_codes(value: list[str]) -> list[str]:
    """Service names as desks write them: lowercase codes, each once."""
    for code in value:
        if not SERVICE_CODE.fullmatch(code):
            raise ValueError(f"service {code!r}: expected a lowercase code like individual_sla")
    if len(set(value)) != len(value):
        raise ValueError(f"service {next(c for c in value if value.count(c) > 1)!r} listed twice")
    return value


class Customer(_Strict):
    """An organisation the desk serves, and what its contract gives it."""

    name: str
    contacts: list[str] = Field(default_factory=list)
    """Known persons' addresses."""
    domains: list[str] = Field(default_factory=list)
    """Mail domains that identify this customer (when the desk allows it)."""
    designated_contact: str | None = None
    """The one person allowed to write to support; others get a reply naming this one."""
    plan: str | None = None
    plan_since: date | None = None
    status: Literal["active", "suspended", "ended"] = "active"
    subscription_until: date | None = None
    language: str | None = None
    coupons: list[Coupon] = Field(default_factory=list)
    packages: list[Package] = Field(default_factory=list)
    """Prepaid packages bought (crmonline), any order; the older single `package = {...}`
    key is still read as a one-package list."""
    installation_used: bool = False
    monthly_limit: int | None = Field(None, ge=1)
    """Overrides the desk's monthly request limit for this customer."""
    projects: dict[str, list[str]] = Field(default_factory=dict)
    """Product -> the customer's project names or codes (GRSoft: napoleon, aceteam)."""
    sla_targets: list[SlaTarget] = Field(default_factory=list)
    """The customer's own contract: tried before the desk's targets."""
    contracts: list[str] = Field(default_factory=list)
    """Contract numbers ("CB-2024-117"): a stranger naming the company and one of these is
    identified as this customer until an agent confirms the address (CleverBox, seed 004)."""

    @field_validator("contracts")
    @classmethod
    def _contracts(cls, value: list[str]) -> list[str]:
        """Numbers as contracts print them: letters, digits, dashes, slashes or dots, with
        at least three letters and digits and one digit (a word alone is no number). Two
        spellings of one number ("CB-2024-117", "cb 2024 117") are one number."""
        seen: set[str] = set()
        for number in value:
            if not re.fullmatch(r"[^\W_][\w/.-]{1,39}", number.strip()):
                raise ValueError(f"contract {number!r}: letters, digits and - / . only")
            key = contract_key(number)
            if len(key) < 3 or not any(c.isdigit() for c in key):
                raise ValueError(f"contract {number!r}: a contract number needs digits")
            if key in seen:
                raise ValueError(f"contract {number!r} is listed twice")
            seen.add(key)
        return [number.strip() for number in value]

    services: list[str] = Field(default_factory=list)
    """Paid services the customer bought, by code (GRSoft: `individual_sla`); rules that
    exempt or entitle by service name them in their own settings."""

    @field_validator("contacts")
    @classmethod
    def _contacts(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @model_validator(mode="before")
    @classmethod
    def _one_package(cls, data: Any) -> Any:
        """Desk files written before customers could have several packages say `package`."""
        if isinstance(data, dict) and "package" in data:
            data = dict(data)
            if "packages" in data:
                raise ValueError(
                    "package: give either `package` (one) or `packages` (a list), not both;"
                    " move it into `packages`"
                )
            one = data.pop("package")
            data["packages"] = [] if one is None else [one]
        return data

    @field_validator("designated_contact")
    @classmethod
    def _designated(cls, value: str | None) -> str | None:
        return None if value is None else _address(value)

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in value]

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[str]) -> list[str]:
        return service_codes(value)


class Agent(_Strict):
    """A person who works the desk's tickets from their own mail client."""

    address: str
    name: str = ""
    """How the customer sees the agent's answers signed; the address when unset."""
    level: int = Field(1, ge=1)
    """Solver level (cloudempiere: 1st, 2nd, 3rd line): `#escalate` goes to the next one."""

    @field_validator("address")
    @classmethod
    def _agent_address(cls, value: str) -> str:
        return _address(value)

    @property
    def display_name(self) -> str:
        return self.name or self.address


class AgentAuthentication(_Strict):
    """Agent mail must also carry a DKIM or DMARC pass in an Authentication-Results header
    that one of `trusted_hosts` (its authserv-id) added."""

    trusted_hosts: list[str] = Field(min_length=1)
    methods: tuple[Literal["dkim", "dmarc"], ...] = ("dkim", "dmarc")
    """Any one of these passing for the agent's domain is enough."""


class KbSettings(_Strict):
    """[kb]: how the desk offers its knowledge base (articles in kb_dir/<desk>/*.md, kb.py)."""

    threshold: float = Field(0.22, gt=0, le=1)
    """Relevance (0..1) an article needs to be offered; below it the reply lists none."""
    max_articles: int = Field(3, ge=1, le=10)
    """At most this many articles in a reply, the most relevant first."""
    basic_questions: bool = False
    """A how-to question an article answers is not a fault report: it gets the links, not
    the missing-fields questionnaire (GRSoft: "basic questions get a link")."""
    question_words: dict[str, list[str]] = Field(default_factory=dict, validate_default=True)
    """Language -> words that make a mail a how-to question ("как", "где", "how to"...)."""
    fault_words: dict[str, list[str]] = Field(default_factory=dict)
    """Language -> words that make it a fault report even so ("ошибк*", "не работает"...)."""

    @field_validator("question_words")
    @classmethod
    def _words_for_basic_questions(
        cls, value: dict[str, list[str]], info: ValidationInfo
    ) -> dict[str, list[str]]:
        if info.data.get("basic_questions") and not any(value.values()):
            raise ValueError("basic_questions needs the words that tell a how-to question")
        return value


class DeskSettings(_Strict):
    name: str = ""
    title: str = ""
    """How customers know the desk ("CleverBox:CRM"); the name when unset."""
    addresses: list[str] = Field(min_length=1)
    language: str = "en"
    timezone: str = "UTC"
    ticket_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    first_response_hours: float = Field(24.0, gt=0)
    fallback_charsets: list[str] = Field(default_factory=lambda: ["utf-8", "windows-1252"])
    rules: list[str] = Field(default_factory=lambda: ["loops"])
    reply_from: str | None = None
    """The From of replies; the desk's first address when unset."""
    reply_language: Literal["desk", "customer", "mail"] = "customer"
    """desk: always the desk's language; customer: the customer's if set; mail: also the
    language the mail is written in, when it is one of `languages`."""
    languages: list[str] = Field(default_factory=list)
    """Languages the desk answers in besides its own (for reply_language = "mail")."""
    agents: list[Agent] = Field(default_factory=list)
    """Support staff: new tickets and follow-ups by mail (answered with a signed Reply-To),
    SLA warnings and breach notices. An entry is an address or {address, name, level}."""
    agent_authentication: AgentAuthentication | None = None
    """When set, agent mail needs a DKIM/DMARC pass from a trusted host as well as its
    signed address; without it the signature alone identifies the agent."""
    reopen_within_days: float = Field(14, ge=0)
    """A customer's reply to a solved ticket reopens it within this many days of solving;
    later (or to a closed ticket) it opens a new ticket that links the old one."""
    old_mail_after: Age | None = None
    """This desk's own [intake] old_mail_after (e.g. a 24/7 desk that wants a shorter one)."""
    auto_reply_limit_per_hour: int = Field(10, ge=0)
    """Automatic replies to one address per hour; past it mail is handled, not answered."""
    identify_by_domain: bool = True
    """A sender whose domain is a customer's counts as that customer."""
    acknowledge_unknown_senders: bool = True
    """Whether a sender who is no customer of the desk gets acknowledgements, questions and
    reopening notices (then at the SMTP envelope sender only, never Reply-To: replies.py).
    false: the ticket is opened all the same, nothing is sent, the history says why."""
    customers: list[Customer] = Field(default_factory=list)
    calendars: dict[str, CalendarSettings] = Field(default_factory=dict)
    """Named working-time calendars ([calendars.office], [calendars.always]...)."""
    sla: SlaSettings | None = None
    """Deadline targets; without it the first answer is due `first_response_hours` later,
    around the clock."""
    rule: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """[rule.<name>] tables: each rule's own settings, validated by that rule."""
    kb: KbSettings = KbSettings()
    """[kb]: the knowledge base's threshold, how many articles a reply lists, basic questions."""

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("agents", mode="before")
    @classmethod
    def _agents(cls, value: Any) -> Any:
        """A bare address is an agent of level 1 with no display name."""
        if isinstance(value, list):
            return [{"address": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"expected an IANA time zone like Europe/Warsaw, got {value!r}"
            ) from exc
        return value

    @field_validator("fallback_charsets")
    @classmethod
    def _charsets(cls, value: list[str]) -> list[str]:
        import codecs

        for name in value:
            try:
                codecs.lookup(name)
            except LookupError as exc:
                raise ValueError(f"unknown charset {name!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _calendars_known(self) -> DeskSettings:
        for name, cal in self.calendars.items():
            try:
                cal.build(name, self.timezone)
            except ValueError as exc:
                raise ValueError(f"calendars.{name}.{exc}") from exc
        if self.sla is not None:
            names = [self.sla.calendar, *(t.calendar for t in self.sla.targets if t.calendar)]
            names += [t.calendar for c in self.customers for t in c.sla_targets if t.calendar]
            unknown = sorted(set(names) - set(self.calendars))
            if unknown:
                raise ValueError(f"sla: calendar {unknown[0]!r} is not among [calendars.*]")
        owners: dict[str, str] = {}
        for customer in self.customers:
            for number in customer.contracts:
                other = owners.setdefault(contract_key(number), customer.name)
                if other != customer.name:
                    raise ValueError(
                        f"customers: contract {number!r} is listed for {other!r} and"
                        f" {customer.name!r}; a number must identify one customer"
                    )
        return self

    def customer_for(self, address: str) -> tuple[Customer | None, str | None]:
        """The customer a sender belongs to and how we know: 'contact', 'domain' or None."""
        address = address.lower()
        for customer in self.customers:
            if address in customer.contacts or address == customer.designated_contact:
                return customer, "contact"
        if self.identify_by_domain:
            domain = address.rpartition("@")[2]
            for customer in self.customers:
                if domain in customer.domains:
                    return customer, "domain"
        return None, None

    @property
    def display_name(self) -> str:
        return self.title or self.name

    @property
    def agent_addresses(self) -> list[str]:
        return [a.address for a in self.agents]

    def agent(self, address: str) -> Agent | None:
        """The agent writing from `address` (case-insensitive), if it is one of ours."""
        address = address.lower()
        return next((a for a in self.agents if a.address == address), None)

    @property
    def sender_address(self) -> str:
        return self.reply_from or self.addresses[0]


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    spool: SpoolSettings = SpoolSettings()
    smtp: SmtpSettings = SmtpSettings()
    outbound: OutboundSettings = OutboundSettings()
    worker: WorkerSettings = WorkerSettings()
    intake: IntakeSettings = IntakeSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    imap: list[ImapMailbox] = Field(default_factory=list)
    """[[imap]] tables: the mailboxes `serve` and `poll` read."""
    agent_mail: AgentMailSettings = AgentMailSettings()
    desks_dir: Path = Path("desks")
    """Folder of desk files, relative to the main config file."""
    kb_dir: Path = Path("kb")
    """Folder of knowledge-base articles, a subfolder per desk, relative to the main config file."""
    templates_dir: Path = Path("templates")
    """Folder of reply templates, relative to the project root (the config folder's parent)."""


class Config:
    """The validated whole: main settings plus every desk, with paths made absolute."""

    def __init__(
        self,
        path: Path,
        settings: Settings,
        desks: Mapping[str, DeskSettings],
        desk_files: Mapping[str, Path] | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.desks = dict(desks)
        self.desk_files = dict(desk_files or {})
        self._by_address = {a: d for d in self.desks.values() for a in d.addresses}

    @property
    def root(self) -> Path:
        """The project root: relative paths in the config count from here (config/..)."""
        return self.path.parent.parent if self.path.parent.name == "config" else self.path.parent

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.root / path)

    @property
    def spool_dir(self) -> Path:
        return self.resolve(self.settings.spool.path)

    @property
    def sent_journal(self) -> Path:
        """The sender's note of what the relay accepted (see sender.py); beside the spool."""
        return self.spool_dir / "sent.journal"

    @property
    def maildir(self) -> Path:
        return self.resolve(self.settings.outbound.maildir)

    @property
    def agent_secret_file(self) -> Path:
        return self.resolve(self.settings.agent_mail.secret_file)

    @property
    def templates_dir(self) -> Path:
        return self.resolve(self.settings.templates_dir)

    @property
    def kb_dir(self) -> Path:
        """Knowledge-base articles: `kb_dir/<desk>/*.md`; counted from the config file's folder."""
        kb_dir = self.settings.kb_dir
        return kb_dir if kb_dir.is_absolute() else self.path.parent / kb_dir

    @property
    def database_url(self) -> str:
        url = self.settings.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            url = prefix + str(self.resolve(Path(url[len(prefix) :])))
        return url

    def old_mail_after(self, desk: DeskSettings) -> timedelta:
        """The age past which a mail to `desk` is old mail (the desk's own, else [intake]'s)."""
        return desk.old_mail_after or self.settings.intake.old_mail_after

    def desk_for_address(self, address: str) -> DeskSettings | None:
        """Plus-addressing (support+CBX-000042.sig@desk) belongs to the base address's desk."""
        local, _, domain = address.lower().rpartition("@")
        desk = self._by_address.get(f"{local}@{domain}")
        if desk is None and "+" in local:
            desk = self._by_address.get(f"{local.split('+', 1)[0]}@{domain}")
        return desk


def _one_line(path: Path, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check the spelling against the README's configuration reference"
            shown = ""
        parts.append(f"{key}: {msg}{shown}")
    return f"{path}: " + "; ".join(parts)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def relay_from_url(url: str) -> RelaySettings:
    """smtp://user:pass@host:587?tls=starttls — the form MAILBOT_RELAY_URL takes."""
    expected = f"{ENV_RELAY_URL}: expected smtp://[user:password@]host[:port][?tls=starttls]"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port that is no number: the URL itself is never echoed,
        raise ConfigError(f"{expected}; {exc}") from None  # it may hold the password
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"{expected}, got scheme {parts.scheme!r}, host {parts.hostname!r}")
    query = parse_qs(parts.query)
    tls = query.get("tls", ["ssl" if parts.scheme == "smtps" else "none"])[0]
    try:
        return RelaySettings(
            host=parts.hostname,
            port=port or (465 if tls == "ssl" else 25),
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )
    except ValidationError as exc:
        raise ConfigError(_one_line(Path(ENV_RELAY_URL), exc)) from exc


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the main file and every desk file; apply environment overrides."""
    env = os.environ if environ is None else environ
    path = Path(path or env.get(ENV_CONFIG) or DEFAULT_CONFIG).absolute()
    data = _read_toml(path)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(path, exc)) from exc
    if env.get(ENV_DATABASE_URL):
        settings = settings.model_copy(
            update={"database": DatabaseSettings(url=env[ENV_DATABASE_URL])}
        )
    if env.get(ENV_RELAY_URL):
        outbound = settings.outbound.model_copy(
            update={"relay": relay_from_url(env[ENV_RELAY_URL])}
        )
        settings = settings.model_copy(update={"outbound": outbound})

    desks_dir = (
        settings.desks_dir if settings.desks_dir.is_absolute() else path.parent / settings.desks_dir
    )
    if not desks_dir.is_dir():
        raise ConfigError(
            f"{path}: desks_dir: expected a folder of desk files, {desks_dir} is none"
        )
    desks: dict[str, DeskSettings] = {}
    files: dict[str, Path] = {}
    owner: dict[str, Path] = {}
    for desk_path in sorted(desks_dir.glob("*.toml")):
        raw = _read_toml(desk_path)
        raw.setdefault("name", desk_path.stem)
        try:
            desk = DeskSettings.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_one_line(desk_path, exc)) from exc
        for address in desk.addresses:
            if address in owner:
                raise ConfigError(
                    f"{desk_path}: addresses: {address} is already the address of {owner[address]}"
                )
            owner[address] = desk_path
        if desk.name in desks:
            raise ConfigError(f"{desk_path}: name: desk {desk.name!r} is defined twice")
        desks[desk.name] = desk
        files[desk.name] = desk_path
    if not desks:
        raise ConfigError(f"{desks_dir}: no desk files (*.toml); mailbot needs at least one desk")
    _check_mailboxes(path, settings.imap, desks)
    return Config(path, settings, desks, files)


def _check_mailboxes(
    path: Path, mailboxes: list[ImapMailbox], desks: Mapping[str, DeskSettings]
) -> None:
    """What one [[imap]] table cannot see alone: its desk exists, its name is unique."""
    seen: set[str] = set()
    for index, mailbox in enumerate(mailboxes):
        if mailbox.desk is not None and mailbox.desk not in desks:
            raise ConfigError(
                f"{path}: imap.{index}.desk: no desk {mailbox.desk!r}"
                f" (known: {', '.join(sorted(desks))})"
            )
        if mailbox.name in seen:
            raise ConfigError(
                f"{path}: imap.{index}.name: mailbox {mailbox.name!r} is defined twice"
            )
        seen.add(mailbox.name)
