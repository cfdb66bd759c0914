"""escalation: warn the desk's agents before a deadline passes, and tell them when it has.

Each run of each clock of a ticket gets at most one warning (when the working time used passes
the desk's `warn_at` share of its target) and one breach notice (when its due time has passed),
both mailed to the agents working the ticket (`agent_notices.recipients`: its assignee,
else the agents at its level) through the outbox, each recorded in the history in the
same transaction: that record is what makes them "once", across restarts and processes. A run
is the clocks from the opening, or from a reopening (`clocks.reopen`), to the solution: a
reopened ticket's new deadlines get their own warning and notice (`Notices.already_sent`
forgets the notices recorded before the `reopened` event), while a clock that only waited for
the customer and resumed stays in its run and is not warned twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mailbot import deadlines
from mailbot.agent_notices import recipients
from mailbot.config import Config, DeskSettings
from mailbot.outbox import queue_mail
from mailbot.replies import Renderer, format_deadline
from mailbot.store import Database, Events, Notices, Session, Ticket

CLOCKS = {
    "first_response": ("first_response_due", "first_responded_at", "first response"),
    "resolution": ("resolution_due", "solved_at", "resolution"),
}


def _share_used(desk: DeskSettings, ticket: Ticket, due: datetime, now: datetime) -> float:
    """Working time used of the whole target, as a fraction (1.0 at the due time)."""
    clock = deadlines.Clock.of(ticket)
    assert clock is not None
    assert ticket.sla_running_since is not None
    before = timedelta(seconds=ticket.sla_used_seconds)
    used = before + deadlines.used_between(desk, clock, ticket.sla_running_since, now)
    total = before + deadlines.used_between(desk, clock, ticket.sla_running_since, due)
    return 1.0 if total <= timedelta(0) else used / total


def check(
    db: Database, config: Config, renderer: Renderer, now: datetime, *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Queue every warning and breach notice due at `now`; return what was sent.

    A first look, without the write lock, finds the tickets that seem to need a notice; each
    of those is then decided again under its lock (`_notify`), because another `sla check`
    (cron beside `serve`) may have sent that very notice since the first look.

    `dry_run` returns the notices the first look finds and writes nothing: a look at a
    moment still ahead must not record future notices, which would stop the real ones from
    ever going out ("once" is kept by those records).
    """
    sent: list[dict[str, Any]] = []
    for desk in config.desks.values():
        if not desk.agents or desk.sla is None:
            continue
        with db.reading() as session:
            notices = Notices(session)
            tickets = notices.open_tickets_with_clocks(desk.name)
            recorded = notices.already_sent(t.id for t in tickets if t.id is not None)
        for ticket in tickets:
            if ticket.id is None:
                continue
            due_now = _due(desk, ticket, recorded, now)
            if dry_run:
                sent += [
                    _describe(desk, ticket, kind, clocks, now) | {"dry_run": True}
                    for kind, clocks in due_now.items()
                ]
            elif due_now:
                sent += _notify(db, desk, renderer, ticket.id, now)
    return sent


def _describe(
    desk: DeskSettings,
    ticket: Ticket,
    kind: str,
    clocks: list[tuple[str, datetime]],
    now: datetime,
) -> dict[str, Any]:
    """One notice as `sla check` prints it: which ticket, which clocks, due when (the desk's
    time with its offset), how much of the target is used, and to which agents."""
    due = min(d for _, d in clocks)
    return {
        "ticket": ticket.number,
        "desk": desk.name,
        "kind": kind,
        "clocks": [name for name, _ in clocks],
        "due": due.astimezone(desk.zone).isoformat(),
        "share": round(_share_used(desk, ticket, due, now) * 100),
        "agents": [a.address for a in recipients(desk, ticket)],
    }


def _due(
    desk: DeskSettings, ticket: Ticket, recorded: set[tuple[int, str, str]], now: datetime
) -> dict[str, list[tuple[str, datetime]]]:
    """The notices this ticket needs at `now` that are not `recorded`: kind -> its clocks."""
    assert desk.sla is not None and ticket.id is not None
    due_now: dict[str, list[tuple[str, datetime]]] = {}
    for name, (due_field, stop_field, _label) in CLOCKS.items():
        due = getattr(ticket, due_field)
        if due is None or getattr(ticket, stop_field) is not None:
            continue
        if now >= due:
            kind = "sla_breach"
        elif _share_used(desk, ticket, due, now) >= desk.sla.warn_at:
            kind = "sla_warning"
        else:
            continue
        if (ticket.id, kind, name) in recorded or (ticket.id, "sla_breach", name) in recorded:
            continue
        due_now.setdefault(kind, []).append((name, due))
    return due_now


def _notify(
    db: Database, desk: DeskSettings, renderer: Renderer, ticket_id: int, now: datetime
) -> list[dict[str, Any]]:
    """Decide the ticket's notices again under its lock, and queue and record them there."""
    with db.transaction() as session:
        notices = Notices(session)
        ticket = notices.lock_ticket(ticket_id)
        if ticket is None:
            return []  # solved, or waiting for the customer, since the first look
        due_now = _due(desk, ticket, notices.already_sent([ticket_id]), now)
        # clocks due together (first response and resolution alike) make one notice
        return [
            _queue_notice(notices, desk, renderer, ticket, kind, clocks, now)
            for kind, clocks in due_now.items()
        ]


def _queue_notice(
    notices: Notices,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    kind: str,
    clocks: list[tuple[str, datetime]],
    now: datetime,
) -> dict[str, Any]:
    due = min(d for _, d in clocks)
    names = [name for name, _ in clocks]
    share = round(_share_used(desk, ticket, due, now) * 100)
    label = " and ".join(CLOCKS[name][2] for name in names)
    # the agents working it (its assignee, else its level's), as every notice about it
    agents = [a.address for a in recipients(desk, ticket)]
    for agent in agents:
        queue_mail(
            notices.session,
            desk,
            renderer,
            language="en",
            event=kind,
            number=ticket.number,
            to=agent,
            subject=f"{'SLA breach' if kind == 'sla_breach' else 'SLA warning'}: {ticket.subject}",
            in_reply_to="",
            references=[],
            values={
                "desk_name": desk.display_name,
                "ticket_number": ticket.number,
                "subject": ticket.subject,
                "customer": ticket.customer,
                "customer_name": ticket.requester_name,
                "requester": ticket.requester,
                "deadline": format_deadline(due, desk, "en"),
                "clock_label": label,
                "share": share,
            },
            ticket_id=None,
            spool_id=None,
            now=now,
            send_after=now,  # a look-ahead (`sla check --now` later) waits for its moment
        )
    Events(notices.session).record(
        kind,
        now,
        ticket_id=ticket.id,
        clocks=names,
        due=due.isoformat(),
        share=share,
        agents=agents,
    )
    return _describe(desk, ticket, kind, clocks, now)


def settle_past(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    *,
    since: datetime,
    now: datetime,
    reason: str,
) -> str | None:
    """The clocks a customer's mail has just started (or resumed) from its arrival `since`
    that fell due between then and `now`, when it is taken in: record their breach as
    settled, mailing nobody, and say why (None: no such clock).

    Only old mail has such clocks (read from a mailbox after an outage, ingested a week
    late): its deadlines count from its arrival, so they passed before mailbot had the mail,
    and a breach notice now would send agents after a past they could not have acted on. The
    record is a breach (what happened) and what `check` reads as already sent, so the clocks
    still ahead (a resolution due next week) get their warning and notice as usual. A clock
    due at `since` itself (its time was used up before it waited) is left to `check`.
    `reason` is what the record says settled it (old_mail).
    """
    assert ticket.id is not None
    past = [
        (name, due)
        for name, (due_field, stop_field, _label) in CLOCKS.items()
        if (due := getattr(ticket, due_field)) is not None
        and getattr(ticket, stop_field) is None
        and since < due <= now
    ]
    if not past:  # live mail: nothing fell due while it waited, no query
        return None
    recorded = Notices(session).already_sent([ticket.id])
    past = [(name, due) for name, due in past if (ticket.id, "sla_breach", name) not in recorded]
    if not past:
        return None
    due = min(d for _, d in past)
    label = " and ".join(CLOCKS[name][2] for name, _ in past)
    why = (
        f"old mail: {label} was due {due.astimezone(desk.zone).isoformat()}, before the mail"
        f" was taken in at {now.astimezone(desk.zone).isoformat()}; no notice to the agents"
    )
    Events(session).record(
        "sla_breach",
        now,
        ticket_id=ticket.id,
        clocks=[name for name, _ in past],
        due=due.isoformat(),
        agents=[],
        settled=reason,
        why=why,
    )
    return why
