"""Mails as customers write them, desks, rule contexts and an App over desk files of a test's
own: what the rules' tests (customers, scope, abuse) build their cases from.
"""

from __future__ import annotations

import email.utils
import shutil
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from mailbot.clock import fixed
from mailbot.config import Customer, DeskSettings
from mailbot.config import load as load_config
from mailbot.parse import Mail, parse
from mailbot.rules import Context, History, Thread, Verdict, load_rules
from mailbot.service import App
from mailbot.store import OutboxRow, Ticket
from tests.conftest import REPO, write_config

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
"""A Friday; 12:00 in Kyiv, 11:00 in Warsaw, 13:30 in Tehran."""

# What each reason's reply template is given, by the brief of issue 3: the stand-ins below use
# every key, so a missing one fails rendering (StrictUndefined) and the test with it. LANG
# becomes the template folder's language: localized titles are picked the way templates will.
STAND_IN_TEMPLATES = {
    "duplicate": "[duplicate] first_ticket={{ first_ticket }}",
    "unknown_customer": "[unknown_customer] desk={{ desk_name }}",
    "not_designated_contact": "[not_designated_contact] designated={{ designated_contact }}",
    "subscription_suspended": "[subscription_suspended] status={{ status }} until={{ until }}",
    "monthly_quota": "[monthly_quota] count={{ count }} limit={{ limit }}",
    "out_of_scope": (
        "[out_of_scope] exclusion={{ exclusion }}"
        " title={{ exclusion_title.get('LANG') or exclusion_title['en'] }}"
        " refer_to={{ refer_to.get('LANG') if refer_to else None }}"
    ),
    "not_entitled": (
        "[not_entitled] entitlement={{ entitlement }} why={{ why }}"
        " title={{ entitlement_title.get('LANG') or entitlement_title['en'] }}"
    ),
    "abusive_language": "[abusive_language] desk={{ desk_name }}",
}


def message(
    subject: str,
    body: str,
    *,
    sender: str = "olena@vector.test",
    name: str = "Олена Коваль",
    to: str = "support@cleverbox.test",
    message_id: str | None = None,
    html: str | None = None,
    charset: str = "utf-8",
    date: str = "Fri, 20 Nov 2026 11:55:00 +0200",
    **headers: str,
) -> bytes:
    """A mail as a customer's client sends it; `html` alone gives an HTML-only mail."""
    msg = EmailMessage()
    msg["From"] = email.utils.formataddr((name, sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain=sender.partition("@")[2])
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    if html is not None:
        msg.set_content(html, subtype="html", charset=charset)
    else:
        msg.set_content(body, charset=charset)
    return msg.as_bytes(policy=policy.SMTP)


def parsed(raw: bytes, at: datetime = NOW) -> Mail:
    return parse(raw, accepted_at=at)


def desk(**overrides: Any) -> DeskSettings:
    values: dict[str, Any] = {
        "name": "cleverbox",
        "title": "CleverBox:CRM",
        "addresses": ["support@cleverbox.test", "help@cleverbox.test"],
        "language": "ru",
        "timezone": "Europe/Kyiv",
        "ticket_prefix": "CBX",
        "customers": [
            Customer(name="ТОВ Вектор", contacts=["olena@vector.test"], domains=["vector.test"]),
        ],
    }
    values.update(overrides)
    return DeskSettings(**values)


def context(
    the_desk: DeskSettings,
    mail: Mail,
    *,
    now: datetime = NOW,
    history: History | None = None,
    thread: str | None = None,
) -> Context:
    """What the pipeline would hand the rules; `thread` makes the mail a follow-up."""
    customer, identified_by = the_desk.customer_for(mail.from_addr)
    history = history or History()
    if thread is not None:
        history = History(
            ticket_with_message_id=history.ticket_with_message_id,
            recent_from_sender=history.recent_from_sender,
            requests_this_month=history.requests_this_month,
            thread=Thread(number=thread, state="open", missing=(), text_so_far=""),
        )
    return Context(
        desk=the_desk,
        envelope_from=mail.from_addr,
        now=now,
        customer=customer,
        identified_by=identified_by,
        history=history,
    )


def check(the_desk: DeskSettings, mail: Mail, ctx: Context | None = None) -> Verdict | None:
    """Run the desk's rules (built the way start-up builds them) and return the stopping one."""
    rules = load_rules(the_desk)
    ctx = ctx or context(the_desk, mail)
    for rule in rules:
        verdict = rule.check(mail, ctx)
        if verdict is not None and verdict.stops:
            return verdict
    return None


def build_app(folder: Path, db_url: str, desks: dict[str, str]) -> App:
    """An App over our own desk files and a templates folder with stand-in refusal replies."""
    desks_dir = folder / "desks"
    desks_dir.mkdir(parents=True)
    for name, text in desks.items():
        (desks_dir / f"{name}.toml").write_text(text, encoding="utf-8")
    templates = folder / "templates"
    shutil.copytree(REPO / "templates", templates)
    for language in [p.name for p in templates.iterdir() if p.is_dir()]:
        for reason, text in STAND_IN_TEMPLATES.items():
            (templates / language / f"{reason}.txt.j2").write_text(
                f"{text.replace('LANG', language)} lang={language}\n", encoding="utf-8"
            )
    path = write_config(folder, db_url, desks=desks_dir, templates=templates)
    # the mails are dated NOW: contracts, coupons and packages are judged as of then
    return App.build(load_config(path, environ={}), clock=fixed(NOW))


def replies(app: App) -> list[tuple[str, str]]:
    """(kind, body) of every queued reply, oldest first."""
    with Session(app.db.engine) as s:
        rows = s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
    out = []
    for row in rows:
        msg = email.message_from_bytes(row.raw, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        text = str(body.get_content())  # type: ignore[attr-defined]
        out.append((row.kind, text.replace("\r\n", "\n")))
    return out


def ack_id(app: App, number: str) -> str:
    """The Message-ID of the acknowledgement of ticket `number` (what a reply answers)."""
    with Session(app.db.engine) as s:
        ticket = s.exec(select(Ticket).where(col(Ticket.number) == number)).one()
        return s.exec(
            select(OutboxRow.message_id).where(
                col(OutboxRow.ticket_id) == ticket.id, col(OutboxRow.kind) == "ack"
            )
        ).one()
