"""tickets: applies an outcome in ONE transaction; touches the store (and the spool row's state).

Whatever the outcome — a new ticket with its acknowledgement, a message threaded into an
existing ticket, a drop, a quarantine — the spool item's move out of `received` is written
in the same transaction as everything else. A crash before commit leaves no trace and the
item is taken again; a crash after commit leaves a finished item that nobody takes again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from mailbot import spool
from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.replies import Renderer, format_deadline, new_message_id
from mailbot.rules import Judgement
from mailbot.store import (
    DeskCounter,
    EventRow,
    Message,
    OutboxRow,
    SpoolState,
    Ticket,
    TicketState,
    is_postgres,
    transaction,
)


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

    def as_json(self) -> dict[str, Any]:
        return {
            "spool_id": self.spool_id,
            "desk": self.desk,
            "outcome": self.outcome,
            "ticket": self.ticket,
            "reason": self.reason,
            "detail": self.detail,
            **dict(self.annotations),
        }


class _AlreadyDone(Exception):
    """The spool item left `received` before we committed: roll our work back, do nothing."""


def _event(
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
            detail=json.dumps(detail, ensure_ascii=False, default=str),
            at=at,
        )
    )


def _next_number(session: Session, engine: Engine, desk: DeskSettings) -> str:
    insert = postgresql.insert if is_postgres(engine) else sqlite.insert
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


def record_quarantine(
    engine: Engine, spool_id: str, *, desk: str | None, reason: str, detail: str, now: datetime
) -> Outcome:
    try:
        return _quarantine(engine, spool_id, desk=desk, reason=reason, detail=detail, now=now)
    except _AlreadyDone:
        return Outcome(spool_id, "already_done", desk=desk)


def _quarantine(
    engine: Engine, spool_id: str, *, desk: str | None, reason: str, detail: str, now: datetime
) -> Outcome:
    with transaction(engine) as session:
        if not spool.finish(
            session,
            spool_id,
            state=SpoolState.quarantined,
            outcome="quarantined",
            reason=reason,
            detail=detail,
            desk=desk,
            ticket_id=None,
        ):
            raise _AlreadyDone
        _event(session, "quarantined", now, spool_id=spool_id, reason=reason, detail=detail)
    return Outcome(spool_id, "quarantined", reason, detail, desk)


def record_drop(
    engine: Engine, spool_id: str, *, desk: str, reason: str, detail: str, now: datetime
) -> Outcome:
    try:
        return _drop(engine, spool_id, desk=desk, reason=reason, detail=detail, now=now)
    except _AlreadyDone:
        return Outcome(spool_id, "already_done", desk=desk)


def _drop(
    engine: Engine, spool_id: str, *, desk: str, reason: str, detail: str, now: datetime
) -> Outcome:
    with transaction(engine) as session:
        if not spool.finish(
            session,
            spool_id,
            state=SpoolState.done,
            outcome="dropped",
            reason=reason,
            detail=detail,
            desk=desk,
            ticket_id=None,
        ):
            raise _AlreadyDone
        _event(session, "dropped", now, spool_id=spool_id, reason=reason, detail=detail)
    return Outcome(spool_id, "dropped", reason, detail, desk)


def record_ticket(
    engine: Engine,
    spool_id: str,
    *,
    desk: DeskSettings,
    mail: Mail,
    judgement: Judgement,
    renderer: Renderer,
    now: datetime,
) -> Outcome:
    """Open a ticket (with its acknowledgement) or thread the mail into an existing one."""
    try:
        return _ticket(
            engine, spool_id, desk=desk, mail=mail, judgement=judgement, renderer=renderer, now=now
        )
    except _AlreadyDone:
        return Outcome(spool_id, "already_done", desk=desk.name)


def _ticket(
    engine: Engine,
    spool_id: str,
    *,
    desk: DeskSettings,
    mail: Mail,
    judgement: Judgement,
    renderer: Renderer,
    now: datetime,
) -> Outcome:
    annotations = judgement.annotations
    with transaction(engine) as session:
        ticket = find_thread(session, desk, mail)
        threaded = ticket is not None
        if ticket is None:
            number = _next_number(session, engine, desk)
            ticket = Ticket(
                desk=desk.name,
                number=number,
                subject=mail.subject,
                requester=mail.from_addr,
                requester_name=mail.from_name,
                state=TicketState.new,
                received_at=mail.received_at,
                first_response_due=mail.received_at + timedelta(hours=desk.first_response_hours),
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            session.flush()
        else:
            if ticket.state in (TicketState.waiting_customer, TicketState.solved):
                _event(
                    session,
                    "reopened",
                    now,
                    ticket_id=ticket.id,
                    spool_id=spool_id,
                    previous=ticket.state,
                )
                ticket.state = TicketState.open
            ticket.updated_at = now
            session.add(ticket)
        assert ticket.id is not None
        if not spool.finish(
            session,
            spool_id,
            state=SpoolState.done,
            outcome="ticket",
            reason=None,
            detail=None,
            desk=desk.name,
            ticket_id=ticket.id,
        ):
            raise _AlreadyDone
        session.add(
            Message(
                ticket_id=ticket.id,
                desk=desk.name,
                direction="in",
                spool_id=spool_id,
                message_id=mail.message_id or f"<{spool_id}@spool.mailbot>",
                from_addr=mail.from_addr,
                subject=mail.subject,
                body_text=mail.text,
                received_at=mail.received_at,
                notes=json.dumps(list(mail.notes), ensure_ascii=False),
            )
        )
        _event(
            session,
            "customer_reply" if threaded else "created",
            now,
            ticket_id=ticket.id,
            spool_id=spool_id,
            message_id=mail.message_id,
            **annotations,
        )
        if not threaded:
            _queue_ack(session, desk, ticket, mail, renderer, now)
    return Outcome(
        spool_id, "ticket", desk=desk.name, ticket=ticket.number, annotations=annotations
    )


def _queue_ack(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    mail: Mail,
    renderer: Renderer,
    now: datetime,
) -> None:
    assert ticket.id is not None and ticket.first_response_due is not None
    message_id = new_message_id(ticket.number, "ack", desk)
    to = mail.reply_to[0] if mail.reply_to else mail.from_addr
    reply = renderer.reply(
        desk=desk,
        event="ack",
        number=ticket.number,
        to=to,
        subject=mail.subject,
        in_reply_to=mail.message_id,
        references=mail.references,
        message_id=message_id,
        now=now,
        values={
            "ticket_number": ticket.number,
            "subject": mail.subject or "(no subject)",
            "customer_name": mail.from_name,
            "desk_name": desk.display_name,
            "deadline": format_deadline(ticket.first_response_due, desk),
            "received": format_deadline(ticket.received_at, desk),
        },
    )
    session.add(
        OutboxRow(
            ticket_id=ticket.id,
            kind="ack",
            message_id=message_id,
            mail_from=desk.sender_address,
            rcpt_to=json.dumps([to]),
            raw=reply.as_bytes(policy=policy.SMTP),
            next_attempt_at=now,
            created_at=now,
        )
    )
    session.add(
        Message(
            ticket_id=ticket.id,
            desk=desk.name,
            direction="out",
            spool_id=None,
            message_id=message_id,
            from_addr=desk.sender_address,
            subject=str(reply["Subject"]),
            body_text=reply.get_content(),
            received_at=now,
        )
    )
    _event(
        session, "reply_queued", now, ticket_id=ticket.id, reply="ack", message_id=message_id, to=to
    )
