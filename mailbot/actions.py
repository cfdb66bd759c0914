"""actions: what agents and admins do to a ticket — answer, wait, solve, extend.

Each action is one transaction on the store: the ticket's new state, its clocks, the mail
to the customer (as an outbox row, threaded under the customer's last message) and the
history event that says who did what. Rules about time live in deadlines.py and business_time.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from mailbot import clocks, deadlines
from mailbot.clocks import deadlines_json
from mailbot.config import Config, DeskSettings
from mailbot.errors import MailbotError, NotFound
from mailbot.outbox import queue_mail
from mailbot.replies import Attached, Renderer, format_deadline
from mailbot.store import (
    Database,
    Events,
    Messages,
    Session,
    Ticket,
    Tickets,
    TicketState,
    TimeLogs,
)


class ActionRefused(MailbotError):
    """The action makes no sense for this ticket now (solved, past the deadline...)."""

    exit_code = 65


def _load(session: Session, config: Config, number: str) -> tuple[Ticket, DeskSettings]:
    ticket = Tickets(session).by_number(number.strip().upper())
    if ticket is None:
        raise NotFound(f"ticket {number}: not found")
    desk = config.desks.get(ticket.desk)
    if desk is None:
        raise NotFound(f"ticket {number}: its desk {ticket.desk!r} is no longer configured")
    return ticket, desk


def _to_customer(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    event: str,
    values: dict[str, Any],
    now: datetime,
    automatic: bool,
    attachments: Sequence[Attached] = (),
) -> str:
    assert ticket.id is not None
    last = Messages(session).last_inbound(ticket.id)
    in_reply_to = last.message_id if last is not None else ""
    return queue_mail(
        session,
        desk,
        renderer,
        language=ticket.language,
        event=event,
        number=ticket.number,
        to=ticket.requester,
        subject=ticket.subject,
        in_reply_to=in_reply_to,
        references=[in_reply_to] if in_reply_to else [],
        values={
            "desk_name": desk.display_name,
            "customer_name": ticket.requester_name,
            "customer": ticket.customer,
            "subject": ticket.subject or "(no subject)",
            "ticket_number": ticket.number,
            **values,
        },
        ticket_id=ticket.id,
        spool_id=None,
        now=now,
        automatic=automatic,
        attachments=attachments,
    )


def respond(
    db: Database,
    config: Config,
    renderer: Renderer,
    number: str,
    *,
    by: str,
    text: str,
    now: datetime,
    wait_for_customer: bool = False,
) -> dict[str, Any]:
    """An agent's answer (from the CLI); see `respond_in`."""
    with db.transaction() as session:
        ticket, desk = _load(session, config, number)
        return respond_in(
            session,
            desk,
            renderer,
            ticket,
            by=by,
            text=text,
            now=now,
            wait_for_customer=wait_for_customer,
        )


def respond_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    by: str,
    text: str,
    now: datetime,
    wait_for_customer: bool = False,
    attachments: Sequence[Attached] = (),
) -> dict[str, Any]:
    """An agent's answer goes to the customer and stops the first-response clock, inside the
    caller's transaction (the CLI's own, or the one that records an agent's mail, whose
    `attachments` are passed on).

    With `wait_for_customer` the agent asked a question: the clocks wait for the answer.
    """
    events = Events(session)
    if ticket.state in (TicketState.solved, TicketState.closed):
        raise ActionRefused(
            f"ticket {ticket.number} is {ticket.state}; it reopens when the customer writes"
        )
    _to_customer(
        session,
        desk,
        renderer,
        ticket,
        "agent_reply",
        {"text": text, "agent": by},
        now,
        automatic=False,
        attachments=attachments,
    )
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
        due = ticket.first_response_due
        events.record(
            "first_response",
            now,
            ticket_id=ticket.id,
            by=by,
            met=None if due is None else now <= due,
        )
        ticket.first_response_due = None
    events.record("agent_reply", now, ticket_id=ticket.id, by=by)
    if wait_for_customer:
        clocks.stop(ticket, desk, now)
        ticket.state = TicketState.waiting_customer
        events.record(
            "sla_paused",
            now,
            ticket_id=ticket.id,
            by=by,
            why="the agent asked the customer a question",
        )
    else:
        ticket.state = TicketState.open
    ticket.updated_at = now
    session.add(ticket)
    return {"ticket": ticket.number, "state": ticket.state, **deadlines_json(ticket, desk)}


def solve(
    db: Database,
    config: Config,
    renderer: Renderer,
    number: str,
    *,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """Mark a ticket solved (from the CLI); see `solve_in`."""
    with db.transaction() as session:
        ticket, desk = _load(session, config, number)
        return solve_in(session, desk, renderer, ticket, by=by, now=now)


def solve_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """The resolution clock stops; the history says whether the target was met."""
    events = Events(session)
    if ticket.state in (TicketState.solved, TicketState.closed):
        raise ActionRefused(f"ticket {ticket.number} is already {ticket.state}")
    due = ticket.resolution_due
    clocks.stop(ticket, desk, now)
    ticket.state = TicketState.solved
    ticket.solved_at = now
    ticket.updated_at = now
    events.record(
        "solved",
        now,
        ticket_id=ticket.id,
        by=by,
        met=None if due is None else now <= due,
    )
    session.add(ticket)
    return {"ticket": ticket.number, "state": ticket.state, **deadlines_json(ticket, desk)}


def log_time(
    db: Database, config: Config, number: str, *, minutes: int, by: str, note: str, now: datetime
) -> dict[str, Any]:
    """Time spent on a ticket (from the CLI); see `log_time_in`."""
    with db.transaction() as session:
        ticket, desk = _load(session, config, number)
        return log_time_in(session, desk, ticket, minutes=minutes, by=by, note=note, now=now)


def log_time_in(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    *,
    minutes: int,
    by: str,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """Time spent on a ticket; it comes off the customer's prepaid package (crmonline)."""
    if minutes <= 0:
        raise ActionRefused("log a positive number of minutes")
    assert ticket.id is not None
    TimeLogs(session).add(
        desk=desk.name,
        customer=ticket.customer,
        ticket_id=ticket.id,
        minutes=minutes,
        by=by,
        note=note,
        at=now,
    )
    Events(session).record(
        "time_logged", now, ticket_id=ticket.id, by=by, minutes=minutes, note=note
    )
    return {"ticket": ticket.number, "customer": ticket.customer, "minutes": minutes}


def logged_hours(db: Database, desk: str, customer: str) -> float:
    with db.reading() as session:
        return TimeLogs(session).minutes(desk, customer) / 60


def extend(
    db: Database,
    config: Config,
    renderer: Renderer,
    number: str,
    *,
    hours: float,
    reason: str,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """A longer resolution target (from the CLI); see `extend_in`."""
    with db.transaction() as session:
        ticket, desk = _load(session, config, number)
        return extend_in(
            session, desk, renderer, ticket, hours=hours, reason=reason, by=by, now=now
        )


def extend_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    hours: float,
    reason: str,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """A longer resolution target (CleverBox: 24 h -> 72 h), only with a notice to the customer,
    and only before the old deadline: a notice after the fact is no notice."""
    events = Events(session)
    clock = deadlines.Clock.of(ticket)
    old_due = ticket.resolution_due
    if clock is None or ticket.sla_running_since is None or old_due is None:
        raise ActionRefused(f"ticket {ticket.number} has no running resolution clock to extend")
    if now >= old_due:
        raise ActionRefused(
            f"ticket {ticket.number}: the deadline {old_due.isoformat()} has passed; "
            "an extension needs its notice before it"
        )
    longer = deadlines.Clock(clock.calendar, clock.first_response, hours)
    new_due = deadlines.due(
        desk,
        longer,
        hours,
        ticket.sla_running_since,
        timedelta(seconds=ticket.sla_used_seconds),
    )
    if new_due is None or new_due <= old_due:
        raise ActionRefused(f"ticket {ticket.number}: {hours} h is no extension")
    ticket.sla_clock = longer.as_json()
    ticket.resolution_due = new_due
    ticket.updated_at = now
    language = ticket.language
    _to_customer(
        session,
        desk,
        renderer,
        ticket,
        "extension",
        {
            "old_deadline": format_deadline(old_due, desk, language),
            "new_deadline": format_deadline(new_due, desk, language),
            "extension_reason": reason,
        },
        now,
        automatic=True,
    )
    events.record(
        "deadline_extended",
        now,
        ticket_id=ticket.id,
        by=by,
        reason=reason,
        hours=hours,
        old_due=old_due.isoformat(),
        new_due=new_due.isoformat(),
    )
    session.add(ticket)
    return {"ticket": ticket.number, "state": ticket.state, **deadlines_json(ticket, desk)}
