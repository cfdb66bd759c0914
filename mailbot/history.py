"""history: what the rules may know of the past — the thread a mail continues, the sender's
recent mails, this month's requests, the hours logged. Read in one short read-only session
before the rules run, so the rules themselves stay pure."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailbot.business_time import month_start
from mailbot.clocks import reopens
from mailbot.config import Customer, DeskSettings
from mailbot.parse import Mail
from mailbot.rules import HISTORY_FACTS, History, RecentMail, Thread
from mailbot.store import Database, Messages, Session, Ticket, Tickets, TimeLogs
from mailbot.subjects import ticket_numbers

HISTORY_LOOKBACK = timedelta(days=7)
"""How far back the sender's mails are read for the duplicate rule (its window is shorter)."""


def find_thread(session: Session, desk: DeskSettings, mail: Mail) -> Ticket | None:
    """The ticket a mail continues: by the ids it answers, else by the number in its subject.

    A number in the subject alone is trusted only from the ticket's own requester, so a
    stranger cannot write into somebody else's ticket by guessing its number; and only with
    this desk's prefix, looked up among this desk's tickets. Tags are read after any reply
    prefix and in the spellings clients mangle them into (`subjects.ticket_numbers`).
    """
    ids = [i for i in (*mail.in_reply_to, *reversed(mail.references)) if i]
    tickets = Tickets(session)
    if ids:
        found = Messages(session).ticket_id_answered(desk.name, ids[:50])
        if found is not None:
            return tickets.get(found)
    # a few tags at most: a subject of a thousand tags must not cost a thousand queries
    for number in list(dict.fromkeys(ticket_numbers(mail.subject, desk.ticket_prefix)))[:5]:
        ticket = tickets.by_number(number, desk=desk.name)
        if ticket is not None and ticket.requester == mail.from_addr:
            return ticket
    return None


def gather(
    db: Database,
    desk: DeskSettings,
    mail: Mail,
    customer: Customer | None,
    now: datetime,
    facts: frozenset[str] = HISTORY_FACTS,
) -> History:
    """The facts the desk's rules read (`facts`), in one short session before they run."""
    with db.reading() as session:
        messages = Messages(session)
        thread = find_thread(session, desk, mail)
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
        if customer is not None and customer.package is not None and "hours_logged" in facts:
            hours_logged = TimeLogs(session).minutes(desk.name, customer.name) / 60
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
