"""clocks: a ticket's SLA clocks start, wait for the customer and start again.

The target a ticket is held to (`deadlines.choose`) and the working-time arithmetic
(`deadlines`, `business_time`) are pure; this module is where their answers are written onto
the ticket, each change with its history event, inside the caller's transaction. A waiting
clock keeps the working time already used (`sla_used_seconds`); starting it again computes
the due times from what is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from mailbot import deadlines
from mailbot.config import Customer, DeskSettings
from mailbot.due_times import deadlines_json as deadlines_json  # its home; callers use clocks'
from mailbot.store import Events, Session, Ticket


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
