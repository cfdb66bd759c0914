"""outcomes: what the pipeline decided for one spool item, and the outcomes that open no
ticket (a drop, a quarantine, a refusal with its explanation), each applied in ONE transaction.

Whatever the outcome, the spool item's move out of `received` is written in the same
transaction as everything else, replies included (as outbox rows). A crash before commit
leaves no trace and the item is taken again; a crash after commit leaves a finished item that
nobody takes again; a second worker that finds the item already finished rolls its own work
back (`AlreadyDone`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mailbot.agent_address import Secrets
from mailbot.config import Agent, Customer, DeskSettings
from mailbot.kb import Hit
from mailbot.outbox import queue_automatic_reply
from mailbot.parse import Mail
from mailbot.references import quarantine_reference
from mailbot.replies import Renderer, format_deadline, recipient_for, short_subject
from mailbot.rules import ANNOTATION_KEYS, Action, History, Judgement, Verdict
from mailbot.store import (
    Database,
    Events,
    Message,
    Session,
    SpoolItems,
    SpoolState,
    Ticket,
    Tickets,
)
from mailbot.textnorm import fingerprint


@dataclass(frozen=True)
class AgentAnswer:
    """A mail recognised as an agent's answer to a ticket (every check of agent_mail passed)."""

    agent: Agent
    number: str
    """The ticket it answers, as its signed address names it."""
    text: str
    """What the agent newly wrote: quoted history and signature removed (agent_reply.py)."""


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
    old_mail_after: timedelta
    """Config.old_mail_after for the desk: past this age the mail is old (see too_late)."""
    replies_suppressed: str | None = None
    """Why no automatic reply may be queued for this mail (`reprocess --no-replies`): the
    outcome is applied as usual and the history says which reply was held back and why."""
    agent_secrets: Secrets | None = None
    """What signs the agents' Reply-To in the notices this outcome queues; None: no notices."""
    agent_answer: AgentAnswer | None = None
    """Set when the mail is an agent's answer: its judgement then holds only the loop and
    attachment rules' verdicts (the customer rules never run on an agent's mail)."""
    articles: tuple[Hit, ...] = ()
    """Knowledge-base articles for this mail (the same the rules saw): replies list them."""
    contract: str | None = None
    """The contract number that identified an unknown sender as `customer` (with the company
    name): the address is no contact of theirs until an agent confirms it, so replies go
    where an unknown sender's go and the ticket's history and agents say so."""
    envelope_from: str | None = None
    """The spool item's MAIL FROM (None for a file or a null sender): where an unknown
    sender's reply goes (`recipient_for`). Carried from the claim, not read again."""

    def too_late(self, promised: datetime | None = None) -> str | None:
        """Why an automatic reply to this mail would be wrong now, or None when it would not.

        A mail taken in long after it arrived (a mailbox read after an outage, last week's
        mail ingested) is old: its sender may have had an answer by other means since, and
        a reply now — an acknowledgement, a question, a refusal — comes out of nowhere
        (reprocessing a mailbox would send thousands). Younger mail is late only for a reply
        that promises a first answer by `promised` when that moment has already passed.
        """
        zone = self.desk.zone
        received = self.mail.received_at
        age = self.now - received
        if age > self.old_mail_after:
            return (
                f"old mail: it arrived {received.astimezone(zone).isoformat()}, {_span(age)}"
                f" before it was taken in (old_mail_after is {_span(self.old_mail_after)})"
            )
        if promised is not None and promised <= self.now:
            return (
                f"old mail: its acknowledgement would promise a first answer by"
                f" {promised.astimezone(zone).isoformat()}, already past when it was taken in"
                f" at {self.now.astimezone(zone).isoformat()}"
            )
        return None


OLD_MAIL = "old_mail"
"""The reason recorded when old mail gets no automatic reply (see Plan.too_late)."""
NO_REPLIES = "no_replies"
"""The reason recorded when the operator held replies back (`reprocess --no-replies`)."""
UNANSWERABLE = "no_recipient"
"""The reason recorded when no address may be answered (replies.recipient_for says why)."""
SILENT_REASONS = frozenset({"unauthenticated_sender"})
"""Refusals that answer nobody: the From of a mail that failed the desk's sender
authentication is the very address that was forged (rules/customer_authentication.py)."""


def _span(delta: timedelta) -> str:
    """7d2h, 1h30m: an age as the configuration writes one."""
    minutes = int(delta.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


@dataclass(frozen=True)
class Outcome:
    """What became of one spool item; the CLI prints it as a JSON line."""

    spool_id: str
    outcome: str
    """ticket | agent_reply | quarantined | dropped | already_done (finished by another worker
    or an earlier run)"""
    reason: str | None = None
    detail: str | None = None
    desk: str | None = None
    ticket: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    deadlines: Mapping[str, Any] = field(default_factory=dict)
    """first_response_due, resolution_due (ISO 8601 in the desk's offset) and sla_paused."""
    follow_up: bool = False
    """The mail continued an existing ticket instead of opening one (not in `as_json`)."""

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


def inbound_message(plan: Plan, ticket_id: int, *, body: str, author: str | None = None) -> Message:
    """The mail a plan is about, as the ticket's message: the customer's (with its fingerprint,
    which finds the same request sent twice) or an agent's answer (`author`, its cleaned text).
    The bytes stay in the spool; the message keeps the attachments' names, sizes and types."""
    mail = plan.mail
    return Message(
        ticket_id=ticket_id,
        desk=plan.desk.name,
        direction="in",
        author=author,
        spool_id=plan.spool_id,
        message_id=mail.message_id or f"<{plan.spool_id}@spool.mailbot>",
        from_addr=mail.from_addr,
        subject=mail.subject,
        body_text=body,
        received_at=mail.received_at,
        notes=list(mail.notes),
        attachments=[
            {"name": a.filename, "size": a.size, "type": a.sniffed_type} for a in mail.attachments
        ],
        fingerprint=None if author else fingerprint(mail.subject, mail.text),
    )


class AlreadyDone(Exception):
    """The spool item left `received` before we committed: roll our work back, do nothing."""


def finish_item(session: Session, spool_id: str, **values: Any) -> None:
    """Move the spool item out of `received` in this transaction, or raise AlreadyDone."""
    if not SpoolItems(session).finish(spool_id, **values):
        raise AlreadyDone


def reply_values(plan: Plan, verdict: Verdict | None, ticket: Ticket | None) -> dict[str, Any]:
    desk, mail = plan.desk, plan.mail
    due = ticket.first_response_due if ticket is not None else None
    resolution = ticket.resolution_due if ticket is not None else None
    values: dict[str, Any] = {
        "desk_name": desk.display_name,
        "customer_name": mail.from_name,
        "customer": plan.customer.name if plan.customer else None,
        "subject": mail.subject or "(no subject)",
        "ticket_number": ticket.number if ticket is not None else None,
        "priority": ticket.priority if ticket is not None else None,
        "deadline": format_deadline(due, desk, plan.language) if due is not None else None,
        "resolution_deadline": (
            format_deadline(resolution, desk, plan.language) if resolution is not None else None
        ),
        "received": format_deadline(mail.received_at, desk, plan.language),
        "reference": quarantine_reference(plan.spool_id),
        "reason": verdict.reason if verdict else None,
        "detail": verdict.detail if verdict else None,
        "missing": list(verdict.missing) if verdict else [],
        "articles": [hit.as_value() for hit in plan.articles],
    }
    if verdict is not None:
        values.update(verdict.values)
    return values


def queue_reply(
    session: Session,
    plan: Plan,
    renderer: Renderer,
    *,
    event: str,
    number: str | None,
    values: Mapping[str, Any],
    ticket_id: int | None,
    promises: datetime | None = None,
    subject: str | None = None,
    refusal: bool = False,
) -> str | None:
    """The automatic reply to the mail this plan is about, to the address `recipient_for`
    chooses (a customer's Reply-To only when it is the same customer's; an unknown sender's
    envelope sender, never its Reply-To); none to old mail, nor one that `promises` a first
    answer by a moment already past, nor where nobody may be answered (the history says
    why: `reply_suppressed`). `subject` replaces the mail's own (a new ticket continuing an
    old one drops the old tag). An unknown sender's reply repeats no display name (but in a
    refusal, which goes where the mail came from) and at most a short subject."""
    mail = plan.mail
    chosen = recipient_for(
        plan.desk,
        # a name and a number anybody may have read identify the request, not the address
        None if plan.contract is not None else plan.customer,
        mail,
        plan.envelope_from,
        refusal=refusal,
    )
    subject = mail.subject if subject is None else subject
    if not chosen.known:
        subject = short_subject(subject)
        values = {**values, "subject": short_subject(str(values.get("subject") or ""))}
        if not refusal:
            values["customer_name"] = None
    to = chosen.to or ""
    reason, why = NO_REPLIES, plan.replies_suppressed
    if why is None:
        reason, why = OLD_MAIL, plan.too_late(promises)
    if why is None and chosen.to is None:
        reason, why = UNANSWERABLE, chosen.why
    if why is not None:
        Events(session).record(
            "reply_suppressed",
            plan.now,
            ticket_id=ticket_id,
            spool_id=plan.spool_id,
            reply=event,
            to=to or None,
            reason=reason,
            why=why,
        )
        return None
    return queue_automatic_reply(
        session,
        plan.desk,
        renderer,
        language=plan.language,
        event=event,
        number=number,
        to=to,
        subject=subject,
        in_reply_to=mail.message_id,
        references=mail.references,
        values=values,
        ticket_id=ticket_id,
        spool_id=plan.spool_id,
        now=plan.now,
    )


# -- outcomes without a ticket ------------------------------------------------------------


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
            finish_item(
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
            Events(session).record(outcome, now, spool_id=spool_id, reason=reason, detail=detail)
    except AlreadyDone:
        return Outcome(spool_id, "already_done", desk=desk)
    return Outcome(spool_id, outcome, reason, detail, desk)


def record_refusal(db: Database, plan: Plan, verdict: Verdict, renderer: Renderer) -> Outcome:
    """Quarantined with its reason, and the sender told plainly why and what to do."""
    desk = plan.desk
    try:
        with db.transaction() as session:
            duplicated = Tickets(session).by_number(verdict.ticket) if verdict.ticket else None
            finish_item(
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
            Events(session).record(
                "quarantined",
                plan.now,
                spool_id=plan.spool_id,
                ticket_id=duplicated.id if duplicated else None,
                reason=verdict.reason,
                detail=verdict.detail,
                rule=verdict.rule,
            )
            if verdict.reason in SILENT_REASONS:
                Events(session).record(
                    "reply_suppressed",
                    plan.now,
                    spool_id=plan.spool_id,
                    reply=verdict.reason,
                    to=None,
                    reason=verdict.reason,
                    why="a refusal to a sender that could not be authenticated would go to the"
                    " address that was forged",
                )
            else:
                queue_reply(
                    session,
                    plan,
                    renderer,
                    event=verdict.reason,
                    number=verdict.ticket,
                    values=reply_values(plan, verdict, duplicated),
                    ticket_id=None,
                    refusal=True,
                )
    except AlreadyDone:
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


def predict(plan: Plan) -> Outcome:
    """What record_* would do with this plan, without writing (for `ingest --dry-run`)."""
    stop = plan.judgement.stopping
    annotations = plan.judgement.annotations
    if stop is not None and stop.action == Action.drop:
        return Outcome(plan.spool_id, "dropped", stop.reason, stop.detail, plan.desk.name)
    if plan.agent_answer is not None:
        if stop is not None:  # an attachment rule refused: the agent is told
            return Outcome(
                plan.spool_id,
                "agent_reply",
                stop.reason,
                stop.detail,
                plan.desk.name,
                ticket=plan.agent_answer.number,
            )
        return Outcome(
            plan.spool_id, "agent_reply", desk=plan.desk.name, ticket=plan.agent_answer.number
        )
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
    old = plan.too_late()  # by age only: the deadlines are not worked out in a dry run
    return Outcome(
        plan.spool_id,
        "ticket",
        OLD_MAIL if old else None,
        old,
        desk=plan.desk.name,
        ticket=thread.number if thread else None,
        annotations=annotations,
        missing=asking.missing if asking else (),
        follow_up=thread is not None,
    )
