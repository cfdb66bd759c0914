"""tickets: applies an outcome in ONE transaction; touches the store (and the spool row's state).

Whatever the outcome — a new ticket with its acknowledgement, a message threaded into an
existing ticket, a refusal with its explanation, a drop, a quarantine — the spool item's move
out of `received` is written in the same transaction as everything else, replies included
(as outbox rows). A crash before commit leaves no trace and the item is taken again; a crash
after commit leaves a finished item that nobody takes again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from mailbot import deadlines, spool
from mailbot.business_time import month_start
from mailbot.config import Customer, DeskSettings
from mailbot.parse import Mail
from mailbot.replies import Renderer, format_deadline, new_message_id
from mailbot.rules import (
    ANNOTATION_KEYS,
    HISTORY_FACTS,
    Action,
    History,
    Judgement,
    RecentMail,
    Thread,
    Verdict,
)
from mailbot.store import (
    Database,
    DeskCounter,
    EventRow,
    Message,
    OutboxRow,
    SpoolState,
    Ticket,
    TicketState,
    TimeLog,
)
from mailbot.textnorm import fingerprint

HISTORY_LOOKBACK = timedelta(days=7)
"""How far back the sender's mails are read for the duplicate rule (its window is shorter)."""


@dataclass(frozen=True)
class Plan:
    """Everything decided before anything is written."""

    spool_id: str
    desk: DeskSettings
    mail: Mail
    judgement: Judgement
    customer: Customer | None
    language: str
    history: History
    now: datetime


@dataclass(frozen=True)
class Outcome:
    """What became of one spool item; the CLI prints it as a JSON line."""

    spool_id: str
    outcome: str
    """ticket | quarantined | dropped | already_done (finished by another worker or earlier run)"""
    reason: str | None = None
    detail: str | None = None
    desk: str | None = None
    ticket: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    deadlines: Mapping[str, Any] = field(default_factory=dict)
    """first_response_due, resolution_due (ISO 8601 in the desk's offset) and sla_paused."""

    def as_json(self) -> dict[str, Any]:
        return {
            "spool_id": self.spool_id,
            "desk": self.desk,
            "outcome": self.outcome,
            "ticket": self.ticket,
            "reason": self.reason,
            "detail": self.detail,
            "missing": list(self.missing),
            **{key: self.annotations.get(key) for key in ANNOTATION_KEYS},
            "first_response_due": self.deadlines.get("first_response_due"),
            "resolution_due": self.deadlines.get("resolution_due"),
            "sla_paused": self.deadlines.get("sla_paused", False),
        }


def deadlines_json(ticket: Ticket, desk: DeskSettings) -> dict[str, Any]:
    """A ticket's due times in the desk's local offset, as scripts and people read them."""

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(desk.zone).isoformat() if moment is not None else None

    return {
        "first_response_due": local(ticket.first_response_due),
        "resolution_due": local(ticket.resolution_due),
        "sla_paused": ticket.sla_clock is not None and ticket.sla_running_since is None,
    }


class _AlreadyDone(Exception):
    """The spool item left `received` before we committed: roll our work back, do nothing."""


def record_event(
    session: Session,
    kind: str,
    at: datetime,
    *,
    ticket_id: int | None = None,
    spool_id: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        EventRow(
            ticket_id=ticket_id,
            spool_id=spool_id,
            kind=kind,
            detail=detail,
            at=at,
        )
    )


def _finish(session: Session, spool_id: str, **values: Any) -> None:
    if not spool.finish(session, spool_id, **values):
        raise _AlreadyDone


def _next_number(session: Session, db: Database, desk: DeskSettings) -> str:
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    statement = (
        insert(DeskCounter)
        .values(desk=desk.name, last_number=1)
        .on_conflict_do_update(
            index_elements=["desk"], set_={"last_number": DeskCounter.last_number + 1}
        )
        .returning(col(DeskCounter.last_number))
    )
    number = session.execute(statement).scalar_one()
    return f"{desk.ticket_prefix}-{number:06d}"


def _ticket_number_pattern(desk: DeskSettings) -> re.Pattern[str]:
    return re.compile(rf"\[({re.escape(desk.ticket_prefix)}-\d{{6,}})\]")


def find_thread(session: Session, desk: DeskSettings, mail: Mail) -> Ticket | None:
    """The ticket a mail continues: by the ids it answers, else by the number in its subject.

    A number in the subject alone is trusted only from the ticket's own requester, so a
    stranger cannot write into somebody else's ticket by guessing its number.
    """
    ids = [i for i in (*mail.in_reply_to, *reversed(mail.references)) if i]
    if ids:
        found = session.exec(
            select(Message.ticket_id).where(
                col(Message.desk) == desk.name, col(Message.message_id).in_(ids[:50])
            )
        ).first()
        if found is not None:
            return session.get(Ticket, found)
    match = _ticket_number_pattern(desk).search(mail.subject)
    if match:
        ticket = session.exec(
            select(Ticket).where(
                col(Ticket.number) == match.group(1), col(Ticket.desk) == desk.name
            )
        ).first()
        if ticket is not None and ticket.requester == mail.from_addr:
            return ticket
    return None


def _month_start(now: datetime, desk: DeskSettings) -> datetime:
    return month_start(now, desk.zone)


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
        thread = find_thread(session, desk, mail)
        duplicate_of = None
        recent: Sequence[tuple[str, str | None, datetime]] = ()
        if mail.message_id and "duplicates" in facts:
            duplicate_of = session.exec(
                select(Ticket.number)
                .join(Message, col(Message.ticket_id) == col(Ticket.id))
                .where(
                    col(Message.desk) == desk.name,
                    col(Message.message_id) == mail.message_id,
                    col(Message.direction) == "in",
                )
            ).first()
        if "duplicates" in facts:
            recent = session.exec(
                select(Ticket.number, Message.fingerprint, Message.received_at)
                .join(Ticket, col(Message.ticket_id) == col(Ticket.id))
                .where(
                    col(Message.desk) == desk.name,
                    col(Message.from_addr) == mail.from_addr,
                    col(Message.direction) == "in",
                    col(Message.received_at) >= mail.received_at - HISTORY_LOOKBACK,
                )
                .order_by(col(Message.received_at).desc())
                .limit(50)
            ).all()
        month_count = 0
        hours_logged = 0.0
        if customer is not None and customer.package is not None and "hours_logged" in facts:
            minutes = session.exec(
                select(func.coalesce(func.sum(TimeLog.minutes), 0)).where(
                    col(TimeLog.desk) == desk.name, col(TimeLog.customer) == customer.name
                )
            ).one()
            hours_logged = int(minutes) / 60
        if customer is not None and "month_count" in facts:
            month_count = session.exec(
                select(func.count())
                .select_from(Ticket)
                .where(
                    col(Ticket.desk) == desk.name,
                    col(Ticket.customer) == customer.name,
                    col(Ticket.created_at) >= _month_start(now, desk),
                )
            ).one()
        thread_info = None
        if thread is not None:
            earlier = session.exec(
                select(Message.body_text, Message.attachments)
                .where(col(Message.ticket_id) == thread.id, col(Message.direction) == "in")
                .order_by(col(Message.id))
            ).all()
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


# -- outcomes without a reply ----------------------------------------------------------------


def record_quarantine(
    db: Database, spool_id: str, *, desk: str | None, reason: str, detail: str, now: datetime
) -> Outcome:
    """Kept for a human, no reply: nobody to answer (no desk, unreadable, no sender)."""
    return _record_without_ticket(
        db, spool_id, SpoolState.quarantined, "quarantined", desk, reason, detail, now
    )


def record_drop(
    db: Database, spool_id: str, *, desk: str, reason: str, detail: str, now: datetime
) -> Outcome:
    """Recorded and kept, never answered (auto-replies, bounces, lists)."""
    return _record_without_ticket(
        db, spool_id, SpoolState.done, "dropped", desk, reason, detail, now
    )


def _record_without_ticket(
    db: Database,
    spool_id: str,
    state: SpoolState,
    outcome: str,
    desk: str | None,
    reason: str,
    detail: str,
    now: datetime,
) -> Outcome:
    try:
        with db.transaction() as session:
            _finish(
                session,
                spool_id,
                state=state,
                outcome=outcome,
                reason=reason,
                detail=detail,
                desk=desk,
                ticket_id=None,
                at=now,
            )
            record_event(session, outcome, now, spool_id=spool_id, reason=reason, detail=detail)
    except _AlreadyDone:
        return Outcome(spool_id, "already_done", desk=desk)
    return Outcome(spool_id, outcome, reason, detail, desk)


# -- replies ---------------------------------------------------------------------------------


def _reply_values(plan: Plan, verdict: Verdict | None, ticket: Ticket | None) -> dict[str, Any]:
    desk, mail = plan.desk, plan.mail
    due = ticket.first_response_due if ticket is not None else None
    values: dict[str, Any] = {
        "desk_name": desk.display_name,
        "customer_name": mail.from_name,
        "customer": plan.customer.name if plan.customer else None,
        "subject": mail.subject or "(no subject)",
        "ticket_number": ticket.number if ticket is not None else None,
        "deadline": format_deadline(due, desk, plan.language) if due is not None else None,
        "received": format_deadline(mail.received_at, desk, plan.language),
        "reason": verdict.reason if verdict else None,
        "detail": verdict.detail if verdict else None,
        "missing": list(verdict.missing) if verdict else [],
    }
    if verdict is not None:
        values.update(verdict.values)
    return values


def _queue_reply(
    session: Session,
    plan: Plan,
    renderer: Renderer,
    *,
    event: str,
    number: str | None,
    values: Mapping[str, Any],
    ticket_id: int | None,
) -> str | None:
    """Render and queue one automatic reply, unless this address had enough this hour."""
    desk, mail, now = plan.desk, plan.mail, plan.now
    to = (mail.reply_to[0] if mail.reply_to else mail.from_addr).lower()
    recent = session.exec(
        select(func.count())
        .select_from(OutboxRow)
        .where(col(OutboxRow.to_addr) == to, col(OutboxRow.created_at) >= now - timedelta(hours=1))
    ).one()
    if recent >= desk.auto_reply_limit_per_hour:
        record_event(
            session,
            "reply_suppressed",
            now,
            ticket_id=ticket_id,
            spool_id=plan.spool_id,
            reply=event,
            to=to,
            why=f"rate limit: {recent} automatic replies to {to} "
            f"in the last hour (limit {desk.auto_reply_limit_per_hour})",
        )
        return None
    return queue_mail(
        session,
        desk,
        renderer,
        language=plan.language,
        event=event,
        number=number,
        to=to,
        subject=mail.subject,
        in_reply_to=mail.message_id,
        references=mail.references,
        values=values,
        ticket_id=ticket_id,
        spool_id=plan.spool_id,
        now=now,
    )


def queue_mail(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    *,
    language: str,
    event: str,
    number: str | None,
    to: str,
    subject: str,
    in_reply_to: str,
    references: Sequence[str],
    values: Mapping[str, Any],
    ticket_id: int | None,
    spool_id: str | None,
    now: datetime,
    automatic: bool = True,
    send_after: datetime | None = None,
) -> str:
    """Render one mail into an outbox row (and, on a ticket, its history): the one way out."""
    message_id = new_message_id(number or "reply", event, desk)
    reply = renderer.reply(
        desk=desk,
        language=language,
        event=event,
        number=number,
        to=to,
        subject=subject,
        in_reply_to=in_reply_to,
        references=references,
        message_id=message_id,
        values=values,
        now=now,
        automatic=automatic,
    )
    session.add(
        OutboxRow(
            ticket_id=ticket_id,
            spool_id=spool_id,
            kind=event,
            message_id=message_id,
            mail_from=desk.sender_address,
            rcpt_to=[to],
            to_addr=to,
            raw=reply.as_bytes(policy=policy.SMTP),
            next_attempt_at=send_after or now,
            created_at=now,
        )
    )
    if ticket_id is not None:
        session.add(
            Message(
                ticket_id=ticket_id,
                desk=desk.name,
                direction="out",
                message_id=message_id,
                from_addr=desk.sender_address,
                subject=str(reply["Subject"]),
                body_text=_text_of(reply),
                received_at=now,
            )
        )
    record_event(
        session,
        "reply_queued",
        now,
        ticket_id=ticket_id,
        spool_id=spool_id,
        reply=event,
        message_id=message_id,
        to=to,
        language=language,
    )
    return message_id


def _text_of(reply: Any) -> str:
    body = reply.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


# -- refusals --------------------------------------------------------------------------------


def record_refusal(db: Database, plan: Plan, verdict: Verdict, renderer: Renderer) -> Outcome:
    """Quarantined with its reason, and the sender told plainly why and what to do."""
    desk = plan.desk
    try:
        with db.transaction() as session:
            duplicated = None
            if verdict.ticket:
                duplicated = session.exec(
                    select(Ticket).where(col(Ticket.number) == verdict.ticket)
                ).first()
            _finish(
                session,
                plan.spool_id,
                state=SpoolState.quarantined,
                outcome="quarantined",
                reason=verdict.reason,
                detail=verdict.detail,
                desk=desk.name,
                ticket_id=duplicated.id if duplicated else None,
                at=plan.now,
            )
            record_event(
                session,
                "quarantined",
                plan.now,
                spool_id=plan.spool_id,
                ticket_id=duplicated.id if duplicated else None,
                reason=verdict.reason,
                detail=verdict.detail,
                rule=verdict.rule,
            )
            _queue_reply(
                session,
                plan,
                renderer,
                event=verdict.reason,
                number=verdict.ticket,
                values=_reply_values(plan, verdict, duplicated),
                ticket_id=None,
            )
    except _AlreadyDone:
        return Outcome(plan.spool_id, "already_done", desk=desk.name)
    return Outcome(
        plan.spool_id,
        "quarantined",
        verdict.reason,
        verdict.detail,
        desk.name,
        ticket=verdict.ticket,
        annotations=plan.judgement.annotations,
    )


# -- tickets ---------------------------------------------------------------------------------


def record_ticket(db: Database, plan: Plan, renderer: Renderer) -> Outcome:
    """Open a ticket (with its acknowledgement) or thread the mail into an existing one."""
    try:
        return _ticket(db, plan, renderer)
    except _AlreadyDone:
        return Outcome(plan.spool_id, "already_done", desk=plan.desk.name)


def _ticket(db: Database, plan: Plan, renderer: Renderer) -> Outcome:
    desk, mail, now = plan.desk, plan.mail, plan.now
    annotations = plan.judgement.annotations
    asking = plan.judgement.asking
    missing = asking.missing if asking is not None else ()
    with db.transaction() as session:
        ticket = find_thread(session, desk, mail)
        threaded = ticket is not None
        if ticket is None:
            ticket = Ticket(
                desk=desk.name,
                number=_next_number(session, db, desk),
                subject=mail.subject,
                requester=mail.from_addr,
                requester_name=mail.from_name,
                state=TicketState.waiting_customer if missing else TicketState.new,
                customer=plan.customer.name if plan.customer else None,
                language=plan.language,
                missing=list(missing),
                received_at=mail.received_at,
                created_at=now,
                updated_at=now,
            )
            for key in ANNOTATION_KEYS:
                setattr(ticket, key, annotations.get(key))
            session.add(ticket)
            session.flush()
        assert ticket.id is not None
        _finish(
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
        session.add(
            Message(
                ticket_id=ticket.id,
                desk=desk.name,
                direction="in",
                spool_id=plan.spool_id,
                message_id=mail.message_id or f"<{plan.spool_id}@spool.mailbot>",
                from_addr=mail.from_addr,
                subject=mail.subject,
                body_text=mail.text,
                received_at=mail.received_at,
                notes=list(mail.notes),
                attachments=[
                    {"name": a.filename, "size": a.size, "type": a.sniffed_type}
                    for a in mail.attachments
                ],
                fingerprint=fingerprint(mail.subject, mail.text),
            )
        )
        if not threaded:
            record_event(
                session,
                "created",
                now,
                ticket_id=ticket.id,
                spool_id=plan.spool_id,
                message_id=mail.message_id,
                customer=ticket.customer,
                **annotations,
            )
            _start_clocks(session, plan, ticket, annotations, paused=bool(missing))
            event = "missing_fields" if missing else "ack"
            _queue_reply(
                session,
                plan,
                renderer,
                event=event,
                number=ticket.number,
                values=_reply_values(plan, asking, ticket),
                ticket_id=ticket.id,
            )
        else:
            _follow_up(session, plan, renderer, ticket, asking)
        ticket.updated_at = now
        session.add(ticket)
    return Outcome(
        plan.spool_id,
        "ticket",
        desk=desk.name,
        ticket=ticket.number,
        annotations={k: v for k in ANNOTATION_KEYS if (v := getattr(ticket, k)) is not None},
        missing=tuple(ticket.missing),
        deadlines=deadlines_json(ticket, desk),
    )


def _start_clocks(
    session: Session, plan: Plan, ticket: Ticket, annotations: Mapping[str, str], paused: bool
) -> None:
    """Choose the ticket's SLA target and start its clocks, or hold them (customer owes us)."""
    clock = deadlines.choose(plan.desk, plan.customer, annotations)
    if clock is None:
        record_event(
            session,
            "sla_none",
            plan.now,
            ticket_id=ticket.id,
            why="no SLA target matches this ticket",
        )
        return
    ticket.sla_clock = clock.as_json()
    ticket.sla_used_seconds = 0
    if paused:
        record_event(
            session,
            "sla_paused",
            plan.now,
            ticket_id=ticket.id,
            why="waiting for the customer's missing information",
            **clock.as_json(),
        )
        return
    _run_clocks(session, plan, ticket, clock, plan.mail.received_at, "sla_started")


def _run_clocks(
    session: Session,
    plan: Plan,
    ticket: Ticket,
    clock: deadlines.Clock,
    start: datetime,
    kind: str,
) -> None:
    used = timedelta(seconds=ticket.sla_used_seconds)
    ticket.sla_running_since = start
    ticket.first_response_due = deadlines.due(plan.desk, clock, clock.first_response, start, used)
    ticket.resolution_due = deadlines.due(plan.desk, clock, clock.resolution, start, used)
    record_event(
        session,
        kind,
        plan.now,
        ticket_id=ticket.id,
        used_seconds=ticket.sla_used_seconds,
        **deadlines_json(ticket, plan.desk),
        **clock.as_json(),
    )


def _follow_up(
    session: Session, plan: Plan, renderer: Renderer, ticket: Ticket, asking: Verdict | None
) -> None:
    """A customer's answer: it may complete what we asked for, or reopen a solved ticket."""
    now = plan.now
    assert ticket.id is not None
    record_event(
        session,
        "customer_reply",
        now,
        ticket_id=ticket.id,
        spool_id=plan.spool_id,
        message_id=plan.mail.message_id,
    )
    if ticket.state == TicketState.waiting_customer:
        if asking is not None and asking.missing:
            ticket.missing = list(asking.missing)
            _queue_reply(
                session,
                plan,
                renderer,
                event="missing_fields",
                number=ticket.number,
                values=_reply_values(plan, asking, ticket),
                ticket_id=ticket.id,
            )
            return
        # the answer we waited for: missing information, or an agent's question
        completes_request = bool(ticket.missing)
        ticket.missing = []
        ticket.state = TicketState.open
        if ticket.sla_clock is not None:
            clock = deadlines.Clock.of(ticket)
            assert clock is not None
            _run_clocks(session, plan, ticket, clock, plan.mail.received_at, "sla_resumed")
        if not completes_request:
            return
        record_event(session, "information_complete", now, ticket_id=ticket.id)
        _queue_reply(
            session,
            plan,
            renderer,
            event="ack",
            number=ticket.number,
            values=_reply_values(plan, None, ticket),
            ticket_id=ticket.id,
        )
    elif ticket.state == TicketState.solved:
        record_event(session, "reopened", now, ticket_id=ticket.id, previous=ticket.state)
        ticket.state = TicketState.open


def predict(plan: Plan) -> Outcome:
    """What record_* would do with this plan, without writing (for `ingest --dry-run`)."""
    stop = plan.judgement.stopping
    annotations = plan.judgement.annotations
    if stop is not None and stop.action == Action.drop:
        return Outcome(plan.spool_id, "dropped", stop.reason, stop.detail, plan.desk.name)
    if stop is not None:
        return Outcome(
            plan.spool_id,
            "quarantined",
            stop.reason,
            stop.detail,
            plan.desk.name,
            ticket=stop.ticket,
            annotations=annotations,
        )
    asking = plan.judgement.asking
    thread = plan.history.thread
    return Outcome(
        plan.spool_id,
        "ticket",
        desk=plan.desk.name,
        ticket=thread.number if thread else None,
        annotations=annotations,
        missing=asking.missing if asking else (),
    )
