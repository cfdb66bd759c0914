"""actions: what agents and admins do to a ticket — answer, wait, solve, close, extend,
prioritise, assign, escalate, note, tell the customer about their bug.

Each action is one transaction on the store: the ticket's new state, its clocks, the mail
to the customer (as an outbox row, threaded under the customer's last message) and the
history event that says who did what. Rules about time live in deadlines.py and business_time.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from mailbot import clocks, deadlines
from mailbot.agent_address import Secrets
from mailbot.agent_notices import notify_agents
from mailbot.clocks import deadlines_json
from mailbot.config import Agent, Config, Customer, DeskSettings
from mailbot.errors import NotFound, Refused
from mailbot.history import package_ledger
from mailbot.outbox import queue_mail
from mailbot.prepaid import Ledger
from mailbot.replies import Attached, Renderer, format_deadline, new_message_id
from mailbot.rules import ANNOTATION_KEYS
from mailbot.store import (
    Database,
    Events,
    Message,
    Messages,
    Session,
    Ticket,
    Tickets,
    TicketState,
    TimeLogs,
)

PRIORITIES = ("P1", "P2", "P3", "P4")
"""The ITIL priorities the desks' rules give (impact x urgency) and agents may set."""

BUG_NOTICES = ("bug_confirmed", "bug_fixed")
"""What a customer is told about the bug they reported (cloudempiere): its templates."""


class ActionRefused(Refused):
    """The action makes no sense for this ticket now (solved, past the deadline...)."""


def load_ticket(session: Session, config: Config, number: str) -> tuple[Ticket, DeskSettings]:
    """The ticket by its number (any case) and its desk; NotFound names which is missing."""
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
        ticket, desk = load_ticket(session, config, number)
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
        if ticket.state == TicketState.waiting_customer and ticket.sla_running_since is None:
            # the agent answers without waiting any longer: the clocks run again from now
            clocks.resume(session, desk, ticket, since=now, now=now)
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
        ticket, desk = load_ticket(session, config, number)
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
    """The resolution clock stops; the history says whether the target was met; the customer
    is told, in the ticket's language, that the request is solved and until when an answer to
    that mail reopens it (`clocks.reopen_until`; later, an answer opens a new request).

    Solving is an agent's act, so the notice goes out whatever the age of the mail that opened
    the ticket; only a ticket without a requester to tell gets none.
    """
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
    if ticket.requester:
        days = desk.reopen_within_days
        _to_customer(
            session,
            desk,
            renderer,
            ticket,
            "solved",
            {
                "reopen_days": int(days) if days == int(days) else days,
                "reopen_until": format_deadline(
                    clocks.reopen_until(desk, now), desk, ticket.language
                ),
            },
            now,
            automatic=True,
        )
    session.add(ticket)
    return {"ticket": ticket.number, "state": ticket.state, **deadlines_json(ticket, desk)}


def log_time(
    db: Database, config: Config, number: str, *, minutes: int, by: str, note: str, now: datetime
) -> dict[str, Any]:
    """Time spent on a ticket (from the CLI); see `log_time_in`. The CLI's `tickets log`
    promises to deduct it from a package, so a ticket with no package to charge is refused
    (an agent's `#time` by mail stays a plain record of work on any desk)."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        if not any(c.packages for c in desk.customers):
            raise ActionRefused(
                f"desk {desk.name} sells no prepaid hours (none of its customers has a"
                f" package): there is no package to log time on"
            )
        if ticket.customer is None:
            raise ActionRefused(
                f"ticket {ticket.number} has no customer (its sender is no known contact):"
                f" there is no package to log time on"
            )
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
    """Every minute logged for a customer, charged or not, in hours (the raw record)."""
    with db.reading() as session:
        return TimeLogs(session).minutes(desk, customer) / 60


def packages_of(db: Database, desk: DeskSettings, customer: Customer, now: datetime) -> Ledger:
    """The customer's packages, each with its balance now (see `history.package_ledger`)."""
    with db.reading() as session:
        return package_ledger(session, desk, customer, now.astimezone(desk.zone).date())


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
        ticket, desk = load_ticket(session, config, number)
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
    over_cap = extension_over_cap(desk, ticket, hours)
    if over_cap is not None:
        raise ActionRefused(over_cap)
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


def extension_over_cap(desk: DeskSettings, ticket: Ticket, hours: float) -> str | None:
    """Why `hours` may not become the ticket's resolution target, or None when it may.

    The desk's `[sla] max_resolution_hours` caps the target itself, counted in working hours
    from arrival like every target: extensions add up to it however many there are
    (CleverBox: 24 h, extended to 72 h at most). The message says what is still allowed,
    for the agent who asked too much."""
    cap = desk.sla.max_resolution_hours if desk.sla is not None else None
    if cap is None or hours <= cap:
        return None
    clock = deadlines.Clock.of(ticket)
    current = clock.resolution if clock is not None else None
    if isinstance(current, float | int) and current >= cap:
        still = f"the target is already {current:g} h: no further extension is allowed"
    else:
        still = f"a new target of at most {cap:g} h is still allowed"
    return (
        f"ticket {ticket.number}: a resolution target of {hours:g} h is over this desk's cap of"
        f" {cap:g} working hours from arrival, however many extensions; {still}"
    )


def close(
    db: Database, config: Config, renderer: Renderer, number: str, *, by: str, now: datetime
) -> dict[str, Any]:
    """Close a ticket for good (from the CLI); see `close_in`."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        return close_in(session, desk, renderer, ticket, by=by, now=now)


def close_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """Final: a reply to a closed ticket opens a new one that links it, instead of reopening.

    A ticket not yet solved is solved first (`solve_in`): its resolution clock stops, the
    reports count whether the target was met, and the customer gets the solved notice. A
    ticket already solved was told then; closing it only records the event.
    """
    if ticket.state == TicketState.closed:
        raise ActionRefused(f"ticket {ticket.number} is already closed")
    was = ticket.state
    if ticket.state != TicketState.solved:
        solve_in(session, desk, renderer, ticket, by=by, now=now)
    ticket.state = TicketState.closed
    ticket.updated_at = now
    Events(session).record("closed", now, ticket_id=ticket.id, by=by, previous=was)
    session.add(ticket)
    return {"ticket": ticket.number, "state": ticket.state, **deadlines_json(ticket, desk)}


def _customer(desk: DeskSettings, ticket: Ticket) -> Customer | None:
    return next((c for c in desk.customers if c.name == ticket.customer), None)


def set_priority_in(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    *,
    priority: str,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """A new priority is a new SLA target (cloudempiere: P1 is answered within an hour around
    the clock): the due times are counted again from the same start (`clocks.retarget`)."""
    if priority not in PRIORITIES:
        raise ActionRefused(f"priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = now
    Events(session).record(
        "priority_changed", now, ticket_id=ticket.id, by=by, old=old, new=priority
    )
    if old != priority:
        annotations = {key: getattr(ticket, key) for key in ANNOTATION_KEYS}
        clocks.retarget(session, desk, _customer(desk, ticket), ticket, annotations, now=now, by=by)
    session.add(ticket)
    return {
        "ticket": ticket.number,
        "priority": priority,
        "previous": old,
        **deadlines_json(ticket, desk),
    }


def find_agent(desk: DeskSettings, who: str) -> Agent:
    """An agent of the desk by address or by configured name (in any case), as people
    write them: `#assign Martin Kováč`, `tickets assign CEM-000001 riesitel2@...`."""
    found = desk.agent(who.strip().strip("<>"))
    if found is not None:
        return found
    named = [a for a in desk.agents if a.name and a.name.casefold() == who.strip().casefold()]
    if len(named) == 1:
        return named[0]
    if named:
        raise ActionRefused(
            f"{who!r} names {len(named)} agents of desk {desk.name}; give the address"
        )
    known = ", ".join(a.address for a in desk.agents) or "none"
    raise ActionRefused(f"{who!r} is not an agent of desk {desk.name} (agents: {known})")


def set_priority(
    db: Database, config: Config, number: str, *, priority: str, by: str, now: datetime
) -> dict[str, Any]:
    """A new priority (from the CLI); see `set_priority_in`."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        return set_priority_in(session, desk, ticket, priority=priority, by=by, now=now)


def assign(
    db: Database,
    config: Config,
    renderer: Renderer,
    number: str,
    *,
    agent: str,
    by: str,
    now: datetime,
    secrets: Secrets | None,
) -> dict[str, Any]:
    """Give a ticket to an agent (from the CLI); see `assign_in`."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        found = find_agent(desk, agent)
        return assign_in(
            session, desk, renderer, ticket, agent=found, by=by, now=now, secrets=secrets
        )


def escalate(
    db: Database,
    config: Config,
    renderer: Renderer,
    number: str,
    *,
    by: str,
    now: datetime,
    secrets: Secrets | None,
) -> dict[str, Any]:
    """To the next solver level (from the CLI); see `escalate_in`."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        return escalate_in(session, desk, renderer, ticket, by=by, now=now, secrets=secrets)


def assign_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    agent: Agent,
    by: str,
    now: datetime,
    secrets: Secrets | None = None,
    note: str = "",
) -> dict[str, Any]:
    """The ticket is `agent`'s: the customer's follow-ups go to that agent alone. The agent is
    told by mail (a signed Reply-To, so answering it answers the customer) when `secrets` are
    given, unless the agent assigned it to themselves."""
    if desk.agent(agent.address) is None:
        raise ActionRefused(f"{agent.address} is not an agent of desk {desk.name}")
    old = ticket.assignee
    ticket.assignee = agent.address
    ticket.updated_at = now
    session.add(ticket)
    Events(session).record(
        "assigned", now, ticket_id=ticket.id, by=by, assignee=agent.address, previous=old
    )
    notified = []
    if secrets is not None and agent.display_name != by and agent.address != by:
        notified = notify_agents(
            session,
            desk,
            renderer,
            ticket,
            secrets,
            event="agent_assigned",
            now=now,
            values={"by": by, "escalated": False, "note": note},
            to=[agent],
        )
    return {"ticket": ticket.number, "assignee": agent.address, "notified": len(notified)}


def next_level(desk: DeskSettings, level: int) -> int | None:
    """The lowest solver level above `level` that has agents at this desk."""
    return min((a.level for a in desk.agents if a.level > level), default=None)


def escalate_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    by: str,
    now: datetime,
    secrets: Secrets | None = None,
    note: str = "",
) -> dict[str, Any]:
    """To the next solver level (cloudempiere: L1 -> L2 -> L3): nobody there owns it yet, so
    the assignee is cleared and every agent of that level is told (with `secrets`)."""
    level = next_level(desk, ticket.level)
    if level is None:
        raise ActionRefused(
            f"ticket {ticket.number} is at level {ticket.level}; "
            f"desk {desk.name} has no agents at a higher level"
        )
    old = ticket.level
    ticket.level = level
    ticket.assignee = None
    ticket.updated_at = now
    session.add(ticket)
    Events(session).record("escalated", now, ticket_id=ticket.id, by=by, old=old, new=level)
    notified = []
    if secrets is not None:
        notified = notify_agents(
            session,
            desk,
            renderer,
            ticket,
            secrets,
            event="agent_assigned",
            now=now,
            values={"by": by, "escalated": True, "note": note},
            to=[a for a in desk.agents if a.level == level],
        )
    return {"ticket": ticket.number, "level": level, "notified": len(notified)}


def note_in(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    *,
    author: str,
    text: str,
    now: datetime,
) -> dict[str, Any]:
    """An internal note: kept in the ticket's story for the agents, never sent, and no answer
    to the customer (the first-response clock keeps running)."""
    if not text.strip():
        raise ActionRefused("an internal note needs some text")
    assert ticket.id is not None
    Messages(session).add(
        Message(
            ticket_id=ticket.id,
            desk=desk.name,
            direction="note",
            author=author,
            message_id=new_message_id(ticket.number, "note", desk),
            from_addr=author,
            subject=ticket.subject,
            body_text=text,
            received_at=now,
        )
    )
    Events(session).record("note", now, ticket_id=ticket.id, by=author)
    ticket.updated_at = now
    session.add(ticket)
    return {"ticket": ticket.number, "note": True}


def tell_bug_in(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    event: str,
    by: str,
    now: datetime,
    release: str = "",
) -> dict[str, Any]:
    """The customer is told their bug was confirmed (`bug_confirmed`), or fixed and in which
    release (`bug_fixed`), in the ticket's language: the regulation promises both."""
    if event not in BUG_NOTICES:
        raise ActionRefused(f"{event!r}: expected one of {', '.join(BUG_NOTICES)}")
    if event == "bug_fixed" and not release.strip():
        raise ActionRefused("a fix needs the release it is in")
    _to_customer(
        session,
        desk,
        renderer,
        ticket,
        event,
        {"agent": by, "release": release.strip()},
        now,
        automatic=True,
    )
    Events(session).record(event, now, ticket_id=ticket.id, by=by, release=release.strip())
    ticket.updated_at = now
    session.add(ticket)
    return {"ticket": ticket.number, "told": event, "release": release.strip() or None}
