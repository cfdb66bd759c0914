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
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.headers import LOOP_HEADER

_LINE_BREAKS = re.compile(r"[\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f]+")


def one_line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", value).strip()


def tagged_subject(number: str | None, subject: str) -> str:
    """`[CBX-000042] subject`, without stacking tags; `Re: subject` when there is no ticket."""
    clean = one_line(subject) or "(no subject)"
    if number is None:
        return clean if clean.lower().startswith("re:") else f"Re: {clean}"
    tag = f"[{number}]"
    return clean if tag in clean else f"{tag} {clean}"


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
_PERSIAN_CITIES = {"Asia/Tehran": "تهران"}


def format_deadline(moment: datetime, desk: DeskSettings, language: str | None = None) -> str:
    """The desk's local time, with the zone named the way customers know it (city).

    Persian readers get the Solar Hijri date in Persian digits: `۱۴۰۵/۰۹/۰۳ ۱۴:۰۰ (تهران)`.
    """
    local = moment.astimezone(desk.zone)
    city = desk.timezone.rsplit("/", 1)[-1].replace("_", " ")
    if (language or desk.language) == "fa":
        import jdatetime

        solar = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
        text = f"{solar.year:04d}/{solar.month:02d}/{solar.day:02d} {local:%H:%M}"
        return f"{text.translate(_PERSIAN_DIGITS)} ({_PERSIAN_CITIES.get(desk.timezone, city)})"
    return f"{local:%d.%m.%Y %H:%M} ({city})"


def new_message_id(number: str, kind: str, desk: DeskSettings) -> str:
    domain = desk.sender_address.rpartition("@")[2]
    return f"<{number}.{kind}.{uuid.uuid4().hex}@{domain}>"


def sample_values(desk: DeskSettings) -> dict[str, Any]:
    """Every value a template may use, filled in: check-config renders templates with it."""
    return {
        "desk_name": desk.display_name,
        "customer_name": "Jan Kowalski",
        "customer": "Example Ltd",
        "subject": "check",
        "ticket_number": f"{desk.ticket_prefix}-000001",
        "deadline": "01.01.2030 12:00 (UTC)",
        "received": "01.01.2030 09:00 (UTC)",
        "reason": None,
        "detail": None,
        "missing": [],
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
        msg = EmailMessage()
        msg["From"] = Address(
            display_name=one_line(from_name or desk.display_name), addr_spec=desk.sender_address
        )
        msg["To"] = one_line(to)
        if reply_to:
            msg["Reply-To"] = one_line(reply_to)
        msg["Subject"] = tagged_subject(number, subject)
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
