"""clocks: a ticket's SLA clocks start, wait for the customer and start again.

The target a ticket is held to (`deadlines.choose`) and the working-time arithmetic
(`deadlines`, `business_time`) are pure; this module is where their answers are written onto
the ticket, each change with its history event, inside the caller's transaction. A waiting
clock keeps the working time already used (`sla_used_seconds`); starting it again computes
the due times from what is left.

A solved ticket the customer writes to again within the desk's window (`reopens`) starts a
new *run* of its clocks (`reopen`), not a resumed one. The regulations promise each request a
first reaction and a resolution within their targets; a customer who writes "it is broken
again" waits for an answer again, as with a new request. So the reopened run gets the full
targets counted from the reply's arrival: a first-response due (the agent's first answer after
the reopening meets it, as on a new ticket) and a resolution due. The earlier run was judged
when it ended (the `first_response` and `solved` events keep whether it met its targets);
carrying its used time over would make a reopened ticket overdue at once for time already
counted, and an extension granted for it (with its notice) does not stretch the new run. The
target is chosen again from the ticket's annotations, as at opening. Escalation notices are
once per run: a reopening lets the new deadlines have their own warning and breach notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from mailbot import deadlines
from mailbot.config import Customer, DeskSettings
from mailbot.due_times import deadlines_json as deadlines_json  # its home; callers use clocks'
from mailbot.store import Events, Session, Ticket, TicketState


def start(
    session: Session,
    desk: DeskSettings,
    customer: Customer | None,
    ticket: Ticket,
    annotations: Mapping[str, str],
    *,
    received: datetime,
    now: datetime,
    paused: bool,
) -> None:
    """Choose the ticket's SLA target and start its clocks, or hold them (customer owes us)."""
    clock = deadlines.choose(desk, customer, annotations)
    events = Events(session)
    if clock is None:
        events.record("sla_none", now, ticket_id=ticket.id, why="no SLA target matches this ticket")
        return
    ticket.sla_clock = clock.as_json()
    ticket.sla_used_seconds = 0
    if paused:
        events.record(
            "sla_paused",
            now,
            ticket_id=ticket.id,
            why="waiting for the customer's missing information",
            **clock.as_json(),
        )
        return
    run(session, desk, ticket, clock, since=received, now=now, kind="sla_started")


def resume(
    session: Session, desk: DeskSettings, ticket: Ticket, *, since: datetime, now: datetime
) -> None:
    """The customer answered: the clocks run again from `since` with the time left."""
    clock = deadlines.Clock.of(ticket)
    if clock is not None:
        run(session, desk, ticket, clock, since=since, now=now, kind="sla_resumed")


def run(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    clock: deadlines.Clock,
    *,
    since: datetime,
    now: datetime,
    kind: str,
) -> None:
    used = timedelta(seconds=ticket.sla_used_seconds)
    ticket.sla_running_since = since
    ticket.first_response_due = deadlines.due(desk, clock, clock.first_response, since, used)
    ticket.resolution_due = deadlines.due(desk, clock, clock.resolution, since, used)
    Events(session).record(
        kind,
        now,
        ticket_id=ticket.id,
        used_seconds=ticket.sla_used_seconds,
        **deadlines_json(ticket, desk),
        **clock.as_json(),
    )


def stop(ticket: Ticket, desk: DeskSettings, now: datetime) -> None:
    """Keep the working time used so far; the clocks wait until started again."""
    clock = deadlines.Clock.of(ticket)
    if clock is None or ticket.sla_running_since is None:
        return
    used = deadlines.used_between(desk, clock, ticket.sla_running_since, now)
    ticket.sla_used_seconds += int(used.total_seconds())
    ticket.sla_running_since = None
    ticket.first_response_due = ticket.resolution_due = None


def retarget(
    session: Session,
    desk: DeskSettings,
    customer: Customer | None,
    ticket: Ticket,
    annotations: Mapping[str, str | None],
    *,
    now: datetime,
    by: str,
) -> None:
    """The ticket's annotations changed (an agent's `#priority`): the target is chosen again
    and the due times counted anew from the same start with the working time already used.

    A clock that waits keeps waiting (its due times come when it runs again); an answer
    already given keeps the first-response clock settled. The time used so far was counted on
    the old target's calendar: close enough, and no history is rewritten.
    """
    clock = deadlines.choose(desk, customer, annotations)
    events = Events(session)
    if clock is None:
        ticket.sla_clock = None
        ticket.sla_running_since = None
        ticket.first_response_due = ticket.resolution_due = None
        events.record(
            "sla_none", now, ticket_id=ticket.id, by=by, why="no SLA target matches this ticket"
        )
        return
    had_clock = ticket.sla_clock is not None
    ticket.sla_clock = clock.as_json()
    if not had_clock and ticket.state in (TicketState.new, TicketState.open):
        # no target matched at intake: the clocks start now, counted from the mail's arrival
        ticket.sla_running_since = ticket.received_at
        ticket.sla_used_seconds = 0
    since = ticket.sla_running_since
    if since is not None:
        used = timedelta(seconds=ticket.sla_used_seconds)
        if ticket.first_responded_at is None:
            ticket.first_response_due = deadlines.due(
                desk, clock, clock.first_response, since, used
            )
        ticket.resolution_due = deadlines.due(desk, clock, clock.resolution, since, used)
    events.record(
        "sla_retargeted",
        now,
        ticket_id=ticket.id,
        by=by,
        used_seconds=ticket.sla_used_seconds,
        **deadlines_json(ticket, desk),
        **clock.as_json(),
    )


def reopen_until(desk: DeskSettings, solved_at: datetime) -> datetime:
    """The end of a solved ticket's reopening window: `reopen_within_days` calendar days
    (not working days: the customer counts them on a wall calendar) after it was solved, at
    the same wall-clock time in the desk's zone, whatever daylight-saving change lies between."""
    local = solved_at.astimezone(desk.zone).replace(tzinfo=None)
    return (local + timedelta(days=desk.reopen_within_days)).replace(tzinfo=desk.zone)


def reopens(desk: DeskSettings, ticket: Ticket, arrived: datetime) -> bool:
    """Whether a customer's mail that arrived at `arrived` belongs in this ticket: always,
    unless the ticket is closed, or solved and its window ended before the mail arrived
    (then the mail opens a new ticket that links this one)."""
    if ticket.state == TicketState.closed:
        return False
    if ticket.state != TicketState.solved:
        return True
    return arrived < reopen_until(desk, ticket.solved_at or ticket.updated_at)


def reopen(
    session: Session,
    desk: DeskSettings,
    customer: Customer | None,
    ticket: Ticket,
    annotations: Mapping[str, str | None],
    *,
    since: datetime,
    now: datetime,
) -> None:
    """A new run of the clocks of a reopened ticket from `since` (see the module's note): the
    target chosen again, no working time used, no first response and no solution yet."""
    ticket.first_responded_at = ticket.solved_at = None
    ticket.first_response_due = ticket.resolution_due = ticket.sla_running_since = None
    ticket.sla_used_seconds = 0
    clock = deadlines.choose(desk, customer, annotations)
    if clock is None:
        ticket.sla_clock = None
        Events(session).record(
            "sla_none", now, ticket_id=ticket.id, why="no SLA target matches this ticket"
        )
        return
    ticket.sla_clock = clock.as_json()
    run(session, desk, ticket, clock, since=since, now=now, kind="sla_restarted")
