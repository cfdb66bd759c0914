"""replies: templates -> outbound EmailMessage values; touches only the templates folder.

Headers are set through the `email` API, never pasted as text, and every header value is
folded to one line first: a customer's subject carrying CR/LF must not become a header of
its own in our reply (header injection).
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from mailbot.config import Customer, DeskSettings
from mailbot.errors import ConfigError
from mailbot.headers import LOOP_HEADER
from mailbot.references import quarantine_reference
from mailbot.subjects import bare_subject

if TYPE_CHECKING:
    from mailbot.parse import Mail

# with the line breaks str.splitlines honours beyond ASCII's: email.header splits on them too
_LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029]+")


def one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value).strip()


class _ReusedHeaders(HeaderRegistry):
    """The default policy's header registry, remembering what it made.

    The stock registry makes a new header class for every header it is given and parses the
    value from scratch; a reply sets a dozen headers, most of them the same in every reply of a
    desk (From, Auto-Submitted, X-Mailbot-Loop, MIME-Version, Content-Type...). Header objects
    are immutable strings with their parse, so one made once serves every reply: the bytes
    written are the same (tests/test_golden_replies.py), the parsing is done once. Values seen
    once (Date, Message-ID) pass through a bounded cache and are forgotten.
    """

    def __init__(self) -> None:
        super().__init__()
        self._make = lru_cache(maxsize=2048)(self._made)
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made

    def _made(self, name: str, value: str) -> BaseHeader:
        return self[name](name, value)

    def __call__(self, name: str, value: str) -> BaseHeader:
        if type(value) is not str:  # a datetime, an Address: as the stock registry does
            return self[name](name, value)
        return self._make(name, value)


REPLY_POLICY = default_policy.clone(header_factory=_ReusedHeaders())
"""The default policy, its headers parsed once per value (`_ReusedHeaders`)."""


SHORT_SUBJECT = 100
"""At most this many characters of an unknown sender's subject are repeated in a reply."""


def short_subject(subject: str, limit: int = SHORT_SUBJECT) -> str:
    """An unknown sender's subject as a reply may repeat it: one line, cut at a word before
    `limit` characters. Whoever gets our reply chose neither the subject nor the sender's
    name: a subject is the one text of the attacker's that an acknowledgement carries, and
    a long one is an advertisement we would deliver for them."""
    text = " ".join(one_line(subject).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + "…"


class Recipient(NamedTuple):
    """Where an automatic reply to a mail goes, and why there (or why nowhere)."""

    to: str | None
    """None: nobody may be answered; `why` says so in the history."""
    why: str
    known: bool
    """The sender is a customer of the desk: its name and subject are repeated as written."""


def envelope_sender(mail_from: str | None, mail: Mail) -> str | None:
    """The mail's envelope sender: SMTP MAIL FROM as the receiver recorded it; for mail that
    came without an envelope (a mailbox, a file) the Return-Path its delivering server wrote.
    '' is the null sender (a bounce); None when nothing says."""
    if mail_from is not None:
        return mail_from.strip().lower()
    return_path = mail.header("return-path").strip()
    if not return_path:
        return None
    return parseaddr(return_path)[1].strip().lower()


def recipient_for(
    desk: DeskSettings,
    customer: Customer | None,
    mail: Mail,
    mail_from: str | None,
    *,
    refusal: bool = False,
) -> Recipient:
    """Who gets the automatic reply to `mail` (backscatter: mailbot must never be a way to
    mail third parties).

    A customer's contact (the sender the desk identified) is answered at its Reply-To when
    that is an address of the same customer (a shared mailbox, a colleague), else at From: a
    forged From with a stranger's Reply-To reaches nobody but the customer. A sender the
    desk does not know is never answered at its Reply-To nor at its From, but at the
    envelope sender (SMTP MAIL FROM; none for the null sender <>): the address the mail
    came from, which the receiving MTA checked (SPF), not one somebody typed in. Only mail
    with no envelope at all (a file, a mailbox without Return-Path) is answered at From.
    Acknowledgements, questions and notices to unknown senders only where the desk says so
    (`acknowledge_unknown_senders`); a refusal always, the desk's rules asked for it."""
    if customer is not None:
        for address in mail.reply_to[:1]:
            owner, _ = desk.customer_for(address)
            if owner is not None and owner.name == customer.name:
                return Recipient(address.lower(), "Reply-To, an address of the same customer", True)
        return Recipient(mail.from_addr or None, "From, the customer's contact", True)
    if not refusal and not desk.acknowledge_unknown_senders:
        return Recipient(
            None, "the sender is no customer and acknowledge_unknown_senders is false", False
        )
    envelope = envelope_sender(mail_from, mail)
    if envelope == "":
        return Recipient(None, "the sender is no customer and its envelope sender is <>", False)
    if envelope is None:
        # no envelope at all: a file, or a mailbox whose server wrote no Return-Path; the
        # SMTP door, where anybody can hand us mail, always records one
        return Recipient(mail.from_addr or None, "an unknown sender without envelope: From", False)
    return Recipient(envelope, "an unknown sender's envelope sender", False)


def tagged_subject(number: str | None, subject: str) -> str:
    """`[CBX-000042] subject`; `Re: subject` when there is no ticket. One tag and no chain of
    `Re: AW: Odp:` however often the mail went back and forth: clients add their own."""
    clean = bare_subject(one_line(subject), number) or "(no subject)"
    return f"Re: {clean}" if number is None else f"[{number}] {clean}"


_ENCODED_WORD_LINE = 76
"""RFC 2047: an encoded word is at most 75 characters; a folded line of them at most 76."""


class EncodedSubject(UnstructuredHeader, BaseHeader):
    """A Subject folded by `email.header.Header`, whose encoded words carry the spaces inside
    them. CPython 3.11's own folding (policy.SMTP) may end an encoded word before a space and
    fold there, and a decoder drops whitespace between encoded words: "по продажах" arrived
    as "попродажах". The value is kept verbatim (text that looks like an encoded word is not
    decoded again); the leading run of ASCII words (our tag) stays readable."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value, kwds)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        text = str(self)
        head, rest = _plain_head(text)
        header = Header(head or None, "us-ascii", _ENCODED_WORD_LINE, self.name)
        if rest:
            header.append(rest, "utf-8")
        # folded at spaces only: a fold after `,` would add a space on unfolding
        folded = header.encode(splitchars=" ", linesep=policy.linesep)
        return f"{self.name}: {folded}{policy.linesep}"


def _plain_head(text: str) -> tuple[str, str]:
    """The leading ASCII words that may go out as they are, and the rest, to be encoded: not
    a word with `=?` (a reader would decode it), nor one too long to fold, nor a double space."""
    words = text.split(" ")
    plain = 0
    while plain < len(words) and _is_plain(words[plain]):
        plain += 1
    # Header writes no space between `)` (or `(`, `\\`) and an encoded word: RFC 822 comments
    while plain < len(words) and plain and words[plain - 1][-1] in "()\\":
        plain -= 1
    head = " ".join(words[:plain])
    return head, (text[len(head) + 1 :] if plain else text)


def _is_plain(word: str) -> bool:
    return 0 < len(word) <= 60 and word.isascii() and word.isprintable() and "=?" not in word


class Attached(NamedTuple):
    """A file passed on in a reply (an agent's attachment, already through the desk's rules)."""

    name: str
    mime_type: str
    content: bytes


RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur"})


def rtl_html(text: str, language: str) -> str:
    """The same reply as HTML laid out right to left: mail clients render plain text LTR."""
    # the text is wrapped at 76 columns for plain-text readers; HTML reflows on its own
    paragraphs = "".join(
        f"<p>{html.escape(' '.join(p.split()))}</p>" for p in text.split("\n\n") if p.strip()
    )
    return (
        f'<!DOCTYPE html><html lang="{language}" dir="rtl"><head><meta charset="utf-8"></head>'
        f'<body dir="rtl" style="direction:rtl;text-align:right">{paragraphs}</body></html>'
    )


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

ZONE_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "Europe/Warsaw": "Warsaw time",
        "Europe/Bratislava": "Bratislava time",
        "Europe/Prague": "Prague time",
        "Europe/Moscow": "Moscow time",
        "Europe/Kyiv": "Kyiv time",
        "Asia/Tehran": "Tehran time",
    },
    "pl": {
        "Europe/Warsaw": "czasu warszawskiego",
        "Europe/Bratislava": "czasu bratysławskiego",
        "Europe/Prague": "czasu praskiego",
        "Europe/Moscow": "czasu moskiewskiego",
        "Europe/Kyiv": "czasu kijowskiego",
        "Asia/Tehran": "czasu teherańskiego",
    },
    "sk": {
        "Europe/Warsaw": "varšavského času",
        "Europe/Bratislava": "bratislavského času",
        "Europe/Prague": "pražského času",
        "Europe/Moscow": "moskovského času",
        "Europe/Kyiv": "kyjevského času",
        "Asia/Tehran": "teheránskeho času",
    },
    "cs": {
        "Europe/Warsaw": "varšavského času",
        "Europe/Bratislava": "bratislavského času",
        "Europe/Prague": "pražského času",
        "Europe/Moscow": "moskevského času",
        "Europe/Kyiv": "kyjevského času",
        "Asia/Tehran": "teheránského času",
    },
    "ru": {
        "Europe/Warsaw": "по варшавскому времени",
        "Europe/Bratislava": "по братиславскому времени",
        "Europe/Prague": "по пражскому времени",
        "Europe/Moscow": "по московскому времени",
        "Europe/Kyiv": "по киевскому времени",
        "Asia/Tehran": "по тегеранскому времени",
    },
    "uk": {
        "Europe/Warsaw": "за варшавським часом",
        "Europe/Bratislava": "за братиславським часом",
        "Europe/Prague": "за празьким часом",
        "Europe/Moscow": "за московським часом",
        "Europe/Kyiv": "за київським часом",
        "Asia/Tehran": "за тегеранським часом",
    },
    "fa": {
        "Europe/Warsaw": "به وقت ورشو",
        "Europe/Bratislava": "به وقت براتیسلاوا",
        "Europe/Prague": "به وقت پراگ",
        "Europe/Moscow": "به وقت مسکو",
        "Europe/Kyiv": "به وقت کی‌یف",
        "Asia/Tehran": "به وقت تهران",
    },
}
"""How each reply language says "in the time of <the desk's zone>", written after the time
as a native writes it ("10:00 czasu warszawskiego", "11:00 по киевскому времени": the phrase
CleverBox's own regulation uses, "с 9 до 18 часов киевского времени"). A zone or a
language missing here is named by its IANA name in brackets: "10:00 (America/Toronto)" is
plain to anyone and never a wrong translation. A new language or desk zone: one entry."""


def zone_name(zone: str, language: str) -> str:
    """The words after a time that say which zone it is in, in `language` (ZONE_NAMES)."""
    return ZONE_NAMES.get(language, {}).get(zone) or f"({zone})"


def format_deadline(moment: datetime, desk: DeskSettings, language: str | None = None) -> str:
    """The desk's local time, its zone named in the reader's language (ZONE_NAMES):
    `07.12.2026 11:00 по киевскому времени`.

    Persian readers get the Solar Hijri date in Persian digits: `۱۴۰۵/۰۹/۰۳ ۱۴:۰۰ به وقت تهران`.
    """
    local = moment.astimezone(desk.zone)
    language = language or desk.language
    zone = zone_name(desk.timezone, language)
    if language == "fa":
        import jdatetime

        solar = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
        text = f"{solar.year:04d}/{solar.month:02d}/{solar.day:02d} {local:%H:%M}"
        return f"{text.translate(_PERSIAN_DIGITS)} {zone}"
    return f"{local:%d.%m.%Y %H:%M} {zone}"


def new_message_id(number: str, kind: str, desk: DeskSettings) -> str:
    """`<CBX-000042.ack.<random>@desk>`; the kind is left out where the header line would pass
    78 characters: a folded Message-ID comes back from some readers with a leading space, and
    then no answer to it threads."""
    domain = desk.sender_address.rpartition("@")[2]
    token = uuid.uuid4().hex[:20]
    ident = f"{number}.{kind}.{token}"
    if len("Message-ID: <>") + len(ident) + 1 + len(domain) > 78:
        ident = f"{number}.{token}"
    return f"<{ident}@{domain}>"


def sample_values(desk: DeskSettings) -> dict[str, Any]:
    """Every value a template may use, filled in: check-config renders templates with it."""
    return {
        "desk_name": desk.display_name,
        "customer_name": "Jan Kowalski",
        "customer": "Example Ltd",
        "subject": "check",
        "ticket_number": f"{desk.ticket_prefix}-000001",
        "priority": None,
        "deadline": "01.01.2030 12:00 (UTC)",
        "resolution_deadline": "02.01.2030 12:00 (UTC)",
        "received": "01.01.2030 09:00 (UTC)",
        "reference": quarantine_reference("0123abcd" * 8),
        "reason": None,
        "detail": None,
        "missing": [],
        "articles": [{"title": "How to reset your password", "url": "https://kb.example.test/p"}],
    }


class Renderer:
    def __init__(self, templates_dir: Path) -> None:
        if not templates_dir.is_dir():
            raise ConfigError(f"templates_dir: {templates_dir} is not a folder of templates")
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def render_text(self, language: str, event: str, values: Mapping[str, Any]) -> str:
        """The desk's language first; English when that language lacks this event."""
        for lang in (language, "en"):
            try:
                template = self.env.get_template(f"{lang}/{event}.txt.j2")
            except TemplateNotFound:
                continue
            return template.render(**values)
        raise ConfigError(f"templates: no template {language}/{event}.txt.j2 nor en/{event}.txt.j2")

    def reply(
        self,
        *,
        desk: DeskSettings,
        language: str,
        event: str,
        number: str | None,
        to: str,
        subject: str,
        in_reply_to: str,
        references: Sequence[str],
        message_id: str,
        values: Mapping[str, Any],
        now: datetime,
        automatic: bool = True,
        reply_to: str | None = None,
        from_name: str | None = None,
        attachments: Sequence[Attached] = (),
    ) -> EmailMessage:
        """`automatic` marks the mail Auto-Submitted (RFC 3834); an agent's answer is not.
        `reply_to` is where answers go when not to From (an agent's signed address).
        `from_name` replaces the desk's name as From's display name (the answering agent's
        "Olena Kovalenko, CleverBox:CRM"); the address stays the desk's, so answers come back."""
        body = self.render_text(language, event, values)
        msg = EmailMessage(policy=REPLY_POLICY)
        msg["From"] = Address(
            display_name=one_line(from_name or desk.display_name), addr_spec=desk.sender_address
        )
        msg["To"] = one_line(to)
        if reply_to:
            msg["Reply-To"] = one_line(reply_to)
        msg["Subject"] = EncodedSubject("Subject", tagged_subject(number, subject))
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = message_id
        if in_reply_to:
            msg["In-Reply-To"] = one_line(in_reply_to)
        chain = [one_line(r) for r in (*references, in_reply_to) if r]
        if chain:
            # the last 20 ids are plenty to thread; unbounded chains make unbounded headers
            msg["References"] = " ".join(dict.fromkeys(chain[-20:]))
        if automatic:
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Auto-Response-Suppress"] = "All"
        msg[LOOP_HEADER] = desk.sender_address
        if number is not None:
            msg["X-Mailbot-Ticket"] = number
        msg.set_content(body, charset="utf-8")
        if language in RTL_LANGUAGES:
            msg.add_alternative(rtl_html(body, language), subtype="html", charset="utf-8")
        for attached in attachments:
            maintype, _, subtype = attached.mime_type.partition("/")
            if not subtype:
                maintype, subtype = "application", "octet-stream"
            msg.add_attachment(
                attached.content, maintype=maintype, subtype=subtype, filename=attached.name
            )
        # after the content: set_content clears every Content-* header it finds
        msg["Content-Language"] = language
        return msg
