"""tickets: a mail that opens a ticket or continues one, applied in ONE transaction — the
ticket, its message, the history, the SLA clocks, the acknowledgement and the spool item's
new state together (see outcomes.py for why that makes a crash harmless).

Old mail (taken in long after it arrived, or whose acknowledgement would promise a moment
already past: `Plan.too_late`) still opens or continues its ticket with deadlines counted
from its arrival, so due times and reports stay true; but its sender gets no automatic reply,
the deadlines it finds already past are settled without a notice (`escalation.settle_past`),
and the outcome says so (reason old_mail).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailbot import clocks
from mailbot.agent_notices import notify_agents, recipients
from mailbot.escalation import settle_past
from mailbot.history import find_thread
from mailbot.outcomes import (
    NO_REPLIES,
    OLD_MAIL,
    AlreadyDone,
    Outcome,
    Plan,
    finish_item,
    inbound_message,
    queue_reply,
    reply_values,
)
from mailbot.replies import Renderer
from mailbot.rules import ANNOTATION_KEYS, Verdict
from mailbot.store import (
    Database,
    Events,
    Message,
    Messages,
    Session,
    SpoolItems,
    SpoolState,
    Ticket,
    Tickets,
    TicketState,
)
from mailbot.subjects import bare_subject, strip_reply_prefixes

IDENTIFIED_BY_CONTRACT = "identified by company name and contract number, address not yet confirmed"
"""The history's word on a ticket whose sender is no contact of the customer it names: an
agent confirms the address (and adds it to the customer's contacts) before it counts."""


def record_ticket(db: Database, plan: Plan, renderer: Renderer) -> Outcome:
    """Open a ticket (with its acknowledgement) or thread the mail into an existing one."""
    try:
        return _ticket(db, plan, renderer)
    except AlreadyDone:
        return Outcome(plan.spool_id, "already_done", desk=plan.desk.name)


def _ticket(db: Database, plan: Plan, renderer: Renderer) -> Outcome:
    desk, mail, now = plan.desk, plan.mail, plan.now
    annotations = plan.judgement.annotations
    asking = plan.judgement.asking
    missing = asking.missing if asking is not None else ()
    with db.transaction() as session:
        tickets, events = Tickets(session), Events(session)
        # an address not yet confirmed writes into its own tickets only, not the customer's
        found = find_thread(session, desk, mail, None if plan.contract else plan.customer)
        ticket, refers_to = found.ticket, found.refers_to
        earlier = None
        if ticket is not None and not clocks.reopens(desk, ticket, mail.received_at):
            earlier, ticket = ticket, None  # closed, or solved too long ago: a new request
        threaded = ticket is not None
        linked = earlier if earlier is not None else refers_to
        if ticket is None:
            ticket = Ticket(
                desk=desk.name,
                number=tickets.next_number(desk.name, desk.ticket_prefix, postgres=db.is_postgres),
                # what the customer wrote about, not how their client forwarded it
                subject=_subject_without(earlier, mail.subject, refers_to),
                requester=mail.from_addr,
                requester_name=mail.from_name,
                state=TicketState.waiting_customer if missing else TicketState.new,
                customer=plan.customer.name if plan.customer else None,
                language=plan.language,
                missing=list(missing),
                related_to=linked.number if linked is not None else None,
                received_at=mail.received_at,
                created_at=now,
                updated_at=now,
            )
            for key in ANNOTATION_KEYS:
                setattr(ticket, key, annotations.get(key))
            tickets.add(ticket)
        assert ticket.id is not None
        finish_item(
            session,
            plan.spool_id,
            state=SpoolState.done,
            outcome="ticket",
            reason=None,
            detail=None,
            desk=desk.name,
            ticket_id=ticket.id,
            at=now,
        )
        inbound = inbound_message(plan, ticket.id, body=mail.text)
        Messages(session).add(inbound)
        for verdict in plan.judgement.verdicts:
            if verdict.rule == "customer_authentication":  # what proved (or not) the sender
                events.record(
                    "sender_authentication",
                    now,
                    ticket_id=ticket.id,
                    spool_id=plan.spool_id,
                    result=verdict.reason,
                    detail=verdict.detail,
                )
            elif verdict.doubts:  # a weak match: the agent reads what it may be about
                events.record(
                    verdict.reason,
                    now,
                    ticket_id=ticket.id,
                    spool_id=plan.spool_id,
                    rule=verdict.rule,
                    detail=verdict.detail,
                    passage=verdict.values.get("passage"),  # the customer's words matched
                )
        if plan.contract is not None:
            events.record(
                "identified_by_contract",
                now,
                ticket_id=ticket.id,
                spool_id=plan.spool_id,
                customer=ticket.customer,
                contract=plan.contract,
                address=mail.from_addr,
                note=IDENTIFIED_BY_CONTRACT,
            )
        if not threaded:
            events.record(
                "created",
                now,
                ticket_id=ticket.id,
                spool_id=plan.spool_id,
                message_id=mail.message_id,
                customer=ticket.customer,
                **annotations,
            )
            if earlier is not None:
                _link(events, ticket, earlier, now)
            elif refers_to is not None:
                # only the new ticket's history: the other is not the sender's to touch
                events.record(
                    "refers_to",
                    now,
                    ticket_id=ticket.id,
                    ticket=refers_to.number,
                    why=f"its In-Reply-To/References answer {refers_to.number}, a conversation"
                    f" {mail.from_addr or '(no sender)'} is no party to",
                )
            clocks.start(
                session,
                desk,
                plan.customer,
                ticket,
                annotations,
                received=mail.received_at,
                now=now,
                paused=bool(missing),
            )
            event = "missing_fields" if missing else "ack"
            values = reply_values(plan, asking, ticket)
            replying = plan.judgement.replying
            if replying is not None and not missing:
                # an acknowledgement that also says what a rule found (several problems, a
                # booking of an entitled service)
                assert replying.reply is not None
                event, values = replying.reply, values | dict(replying.values)
                events.record(
                    replying.reason or replying.rule,
                    now,
                    ticket_id=ticket.id,
                    spool_id=plan.spool_id,
                    detail=replying.detail,
                )
            if earlier is not None and not missing:
                event = "reopened_as_new"
                values |= {
                    "subject": ticket.subject or "(no subject)",
                    "earlier_ticket": earlier.number,
                    "earlier_state": earlier.state,
                }
            queue_reply(
                session,
                plan,
                renderer,
                event=event,
                number=ticket.number,
                values=values,
                ticket_id=ticket.id,
                promises=ticket.first_response_due,
                subject=ticket.subject if earlier is not None else None,
            )
            settled = settle_past(
                session, desk, ticket, since=mail.received_at, now=now, reason=OLD_MAIL
            )
            late = plan.too_late(ticket.first_response_due) or settled
        else:
            late = _follow_up(session, plan, renderer, ticket, asking)
        _notify_agents(session, plan, renderer, ticket, inbound, follow_up=threaded)
        if late is not None:
            SpoolItems(session).explain(plan.spool_id, reason=OLD_MAIL, detail=late)
        ticket.updated_at = now
        session.add(ticket)
    return Outcome(
        plan.spool_id,
        "ticket",
        OLD_MAIL if late else None,
        late,
        desk=desk.name,
        ticket=ticket.number,
        annotations={k: v for k in ANNOTATION_KEYS if (v := getattr(ticket, k)) is not None},
        missing=tuple(ticket.missing),
        deadlines=clocks.deadlines_json(ticket, desk),
        follow_up=threaded,
    )


def _notify_agents(
    session: Session,
    plan: Plan,
    renderer: Renderer,
    ticket: Ticket,
    inbound: Message,
    *,
    follow_up: bool,
) -> None:
    """The desk's agents get the customer's mail with a Reply-To signed for each of them.
    Not for old mail nor when replies are held back: an agent answering a stale mail writes
    to a customer who may have moved on; the history says which notice was not sent and why,
    as it does for the acknowledgement.

    A rule's doubt about a new request (a weak match: `Verdict.doubts`) is said in the notice
    too, so the agent sees it before answering: `doubts` holds each such verdict's reason and
    values (out_of_scope: exclusion, found; not_entitled: entitlement, why, found)."""
    if not plan.desk.agents or plan.agent_secrets is None:
        return
    reason, why = NO_REPLIES, plan.replies_suppressed
    if why is None:
        reason, why = OLD_MAIL, plan.too_late()
    if why is not None:
        for agent in recipients(plan.desk, ticket):
            Events(session).record(
                "reply_suppressed",
                plan.now,
                ticket_id=ticket.id,
                spool_id=plan.spool_id,
                reply="agent_notice",
                to=agent.address,
                reason=reason,
                why=why,
            )
        return
    notify_agents(
        session,
        plan.desk,
        renderer,
        ticket,
        plan.agent_secrets,
        event="agent_notice",
        now=plan.now,
        last=inbound,
        values={
            "follow_up": follow_up,
            "unconfirmed_contract": plan.contract,
            "doubts": [] if follow_up else _doubts(plan),
        },
    )


def _doubts(plan: Plan) -> list[dict[str, Any]]:
    """What the rules doubt about the mail, for the notice: each doubting verdict's reason and
    values."""
    return [{**v.values, "reason": v.reason} for v in plan.judgement.verdicts if v.doubts]


def _follow_up(
    session: Session, plan: Plan, renderer: Renderer, ticket: Ticket, asking: Verdict | None
) -> str | None:
    """A customer's answer: it may complete what we asked for, or reopen a solved ticket
    (one past its window never comes here: see `clocks.reopens`).
    Returns why the reply it would have sent was not (old mail), else None."""
    now = plan.now
    assert ticket.id is not None
    events = Events(session)
    events.record(
        "customer_reply",
        now,
        ticket_id=ticket.id,
        spool_id=plan.spool_id,
        message_id=plan.mail.message_id,
    )
    if ticket.state == TicketState.waiting_customer:
        if asking is not None and asking.missing:
            ticket.missing = list(asking.missing)
            queue_reply(
                session,
                plan,
                renderer,
                event="missing_fields",
                number=ticket.number,
                values=reply_values(plan, asking, ticket),
                ticket_id=ticket.id,
            )
            return plan.too_late()
        # the answer we waited for: missing information, or an agent's question
        completes_request = bool(ticket.missing)
        ticket.missing = []
        ticket.state = TicketState.open
        clocks.resume(session, plan.desk, ticket, since=plan.mail.received_at, now=now)
        settled = settle_past(
            session, plan.desk, ticket, since=plan.mail.received_at, now=now, reason=OLD_MAIL
        )
        if not completes_request:
            return settled
        events.record("information_complete", now, ticket_id=ticket.id)
        queue_reply(
            session,
            plan,
            renderer,
            event="ack",
            number=ticket.number,
            values=reply_values(plan, None, ticket),
            ticket_id=ticket.id,
            promises=ticket.first_response_due,
        )
        return plan.too_late(ticket.first_response_due) or settled
    elif ticket.state == TicketState.solved:
        return _reopen(session, plan, renderer, ticket)
    return None


def _reopen(session: Session, plan: Plan, renderer: Renderer, ticket: Ticket) -> str | None:
    """The customer wrote within the window after the ticket was solved: the request is open
    again, its clocks start a new run (`clocks.reopen` says why with full targets), and the
    customer is told by when to expect an answer. Returns why that reply was not sent."""
    now, desk, arrived = plan.now, plan.desk, plan.mail.received_at
    assert ticket.id is not None
    # recorded first: escalation's notices count from it (a new run, see escalation.py)
    Events(session).record(
        "reopened",
        now,
        ticket_id=ticket.id,
        previous=ticket.state,
        solved_at=ticket.solved_at.isoformat() if ticket.solved_at else None,
    )
    ticket.state = TicketState.open
    annotations = {key: getattr(ticket, key) for key in ANNOTATION_KEYS}
    clocks.reopen(session, desk, plan.customer, ticket, annotations, since=arrived, now=now)
    settled = settle_past(session, desk, ticket, since=arrived, now=now, reason=OLD_MAIL)
    queue_reply(
        session,
        plan,
        renderer,
        event="reopened",
        number=ticket.number,
        values=reply_values(plan, None, ticket) | {"subject": ticket.subject or "(no subject)"},
        ticket_id=ticket.id,
        promises=ticket.first_response_due,
    )
    return plan.too_late(ticket.first_response_due) or settled


def _subject_without(earlier: Ticket | None, subject: str, refers_to: Ticket | None = None) -> str:
    """A new ticket's subject, without the reply prefixes the customer's client stacked; one
    continuing an earlier ticket also drops that ticket's tag, so replies carry the new number
    only (the link is kept in `related_to`). One that merely refers to another customer's
    ticket never borrows that ticket's subject: it is not the sender's to read."""
    if earlier is not None:
        return bare_subject(subject, earlier.number) or earlier.subject
    if refers_to is not None:
        return bare_subject(subject, refers_to.number)
    return strip_reply_prefixes(subject)


def _link(events: Events, ticket: Ticket, earlier: Ticket, now: datetime) -> None:
    """Both histories say which ticket continues which."""
    events.record(
        "continues", now, ticket_id=ticket.id, ticket=earlier.number, previous=earlier.state
    )
    events.record("continued_by", now, ticket_id=earlier.id, ticket=ticket.number)
