"""history: what the rules may know of the past — the thread a mail continues, the sender's
recent mails, this month's requests, the hours logged. Read in one short read-only session
before the rules run, so the rules themselves stay pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mailbot.business_time import month_start
from mailbot.clocks import reopens
from mailbot.config import Customer, DeskSettings
from mailbot.parse import Mail
from mailbot.prepaid import Ledger, Logged, ledger
from mailbot.rules import HISTORY_FACTS, History, RecentMail, Thread
from mailbot.store import Database, Messages, Session, Ticket, Tickets, TimeLogs
from mailbot.subjects import ticket_numbers

HISTORY_LOOKBACK = timedelta(days=7)
"""How far back the sender's mails are read for the duplicate rule (its window is shorter)."""


@dataclass(frozen=True)
class Found:
    """What the ids and tags of a mail lead to."""

    ticket: Ticket | None = None
    """The ticket the mail continues: its sender may write into it."""
    refers_to: Ticket | None = None
    """A ticket the mail's In-Reply-To/References answer but whose conversation its sender
    has no part in: the mail opens a ticket of its own that links this one."""


def may_write_into(ticket: Ticket, mail: Mail, customer: Customer | None) -> bool:
    """Whether the sender may add to (and reopen) `ticket`: its requester, or a contact of
    the same customer (by address or, where the desk allows it, by domain). Anybody copied
    on a mail knows its Message-ID and anybody can guess a ticket number, so neither proves
    anything about the sender; the desk's signed reply addresses (agents) are checked by
    agent_mail before a mail ever comes here. `customer` is the one the pipeline found for
    the sender, after any authentication the desk requires."""
    sender = mail.from_addr
    if not sender:
        return False
    if ticket.requester == sender:
        return True
    return customer is not None and ticket.customer is not None and customer.name == ticket.customer


def find_thread(
    session: Session, desk: DeskSettings, mail: Mail, customer: Customer | None = None
) -> Found:
    """The ticket a mail continues: by the ids it answers, else by the number in its subject;
    either only for a sender who may write into that ticket (`may_write_into`).

    Tags count only with this desk's prefix, looked up among this desk's tickets, after any
    reply prefix and in the spellings clients mangle them into (`subjects.ticket_numbers`).
    A mail whose ids answer a ticket its sender has no part in is not threaded there (a
    stranger must not add to, nor reopen, another customer's ticket) but links it.
    """
    ids = [i for i in (*mail.in_reply_to, *reversed(mail.references)) if i]
    tickets = Tickets(session)
    refers_to = None
    if ids:
        for ticket_id in Messages(session).tickets_answered(desk.name, ids[:50]):
            ticket = tickets.get(ticket_id)
            if ticket is None:
                continue
            if may_write_into(ticket, mail, customer):
                return Found(ticket)
            refers_to = refers_to or ticket
    # a few tags at most: a subject of a thousand tags must not cost a thousand queries
    for number in list(dict.fromkeys(ticket_numbers(mail.subject, desk.ticket_prefix)))[:5]:
        ticket = tickets.by_number(number, desk=desk.name)
        if ticket is not None and may_write_into(ticket, mail, customer):
            return Found(ticket)
    return Found(None, refers_to)


def package_ledger(session: Session, desk: DeskSettings, customer: Customer, today: date) -> Ledger:
    """The customer's packages with each one's balance on `today` (a day of the desk's zone):
    every logged row is charged to the package valid on the desk-local day it was logged."""
    rows = TimeLogs(session).entries(desk.name, customer.name)
    logged = [Logged(at.astimezone(desk.zone).date(), mins, charged) for at, mins, charged in rows]
    return ledger(customer.packages, logged, today)


def gather(
    db: Database,
    desk: DeskSettings,
    mail: Mail,
    customer: Customer | None,
    now: datetime,
    facts: frozenset[str] = HISTORY_FACTS,
    *,
    by_address: bool = True,
) -> History:
    """The facts the desk's rules read (`facts`), in one short session before they run.

    `by_address` False: the customer was identified by what the mail says (company name and
    contract number), not by the sender's address, which writes into no ticket but its own."""
    with db.reading() as session:
        messages = Messages(session)
        thread = find_thread(session, desk, mail, customer if by_address else None).ticket
        if thread is not None and not reopens(desk, thread, mail.received_at):
            # it will open a new ticket linking that one: to the rules it is a new request
            thread = None
        duplicate_of = None
        recent: list[tuple[str, str | None, datetime]] = []
        if mail.message_id and "duplicates" in facts:
            duplicate_of = messages.ticket_number_with_inbound(desk.name, mail.message_id)
        if "duplicates" in facts:
            recent = messages.recent_from(
                desk.name, mail.from_addr, mail.received_at - HISTORY_LOOKBACK
            )
        month_count = 0
        hours_logged = 0.0
        if customer is not None and customer.packages and "hours_logged" in facts:
            today = now.astimezone(desk.zone).date()
            hours_logged = package_ledger(session, desk, customer, today).charged_to_valid
        if customer is not None and "month_count" in facts:
            month_count = Tickets(session).created_since(
                desk.name, customer.name, month_start(now, desk.zone)
            )
        thread_info = None
        if thread is not None:
            assert thread.id is not None
            earlier = messages.inbound_texts(thread.id)
            thread_info = Thread(
                number=thread.number,
                state=thread.state,
                missing=tuple(thread.missing),
                text_so_far="\n\n".join(body for body, _ in earlier),
                attachments_so_far=tuple(
                    a["type"] for _, attachments in earlier for a in attachments
                ),
            )
    return History(
        ticket_with_message_id=duplicate_of,
        recent_from_sender=tuple(
            RecentMail(number, fp, at) for number, fp, at in recent if fp is not None
        ),
        requests_this_month=month_count,
        hours_logged=hours_logged,
        thread=thread_info,
    )
