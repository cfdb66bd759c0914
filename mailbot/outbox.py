"""outbox: the one way a mail leaves — rendered into an outbox row inside the caller's
transaction, with its copy in the ticket's history; automatic replies are rate-limited per
address so two robots answering each other cannot run away."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

from mailbot.config import DeskSettings
from mailbot.errors import NotFound, Refused
from mailbot.replies import Attached, Renderer, new_message_id
from mailbot.store import Database, Events, Message, Messages, Outbox, OutboxRow, Session

RATE_WINDOW = timedelta(hours=1)
"""The window `auto_reply_limit_per_hour` counts in."""


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
    reply_to: str | None = None,
    attachments: Sequence[Attached] = (),
) -> str:
    """Render one mail into an outbox row (and, on a ticket, its history): the one way out.

    A mail written by a person (not `automatic`) whose values name the `agent` goes out under
    that person's name beside the desk's ("Olena Kovalenko, CleverBox:CRM"): the customer sees
    who answered, and the address stays the desk's so the answer to it comes back to the desk.
    """
    message_id = new_message_id(number or "reply", event, desk)
    agent = values.get("agent") if not automatic else None
    from_name = f"{agent}, {desk.display_name}" if agent else None
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
        reply_to=reply_to,
        from_name=from_name,
        attachments=attachments,
    )
    Outbox(session).add(
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
        Messages(session).add(
            Message(
                ticket_id=ticket_id,
                desk=desk.name,
                direction="out",
                # the person behind a mail from the desk's address (`tickets show` names them)
                author=None if automatic else values.get("agent"),
                message_id=message_id,
                from_addr=desk.sender_address,
                subject=str(reply["Subject"]),
                body_text=_text_of(reply),
                received_at=now,
                attachments=[
                    {"name": a.name, "size": len(a.content), "type": a.mime_type}
                    for a in attachments
                ],
            )
        )
    Events(session).record(
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


def queue_automatic_reply(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    *,
    event: str,
    to: str,
    ticket_id: int | None,
    spool_id: str | None,
    now: datetime,
    **mail: Any,
) -> str | None:
    """Queue an automatic reply, unless this address had enough this hour (then say so in
    the history and send nothing). `mail` is the rest of what `queue_mail` takes."""
    recent = Outbox(session).queued_to_since(to, now - RATE_WINDOW)
    if recent >= desk.auto_reply_limit_per_hour:
        Events(session).record(
            "reply_suppressed",
            now,
            ticket_id=ticket_id,
            spool_id=spool_id,
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
        event=event,
        to=to,
        ticket_id=ticket_id,
        spool_id=spool_id,
        now=now,
        **mail,
    )


class NotRetryable(Refused):
    """`outbox retry` of a row that is not failed: a pending row is still being tried, and
    a sent one would reach its recipient twice."""


def retry_failed(
    db: Database, ids: Sequence[int] | None, *, by: str, now: datetime
) -> list[dict[str, Any]]:
    """Put failed rows (`ids`, or every failed one when None) back in the queue, due `now`,
    with the retry in the history. All or nothing: an unknown id (NotFound) or a row that is
    not failed (NotRetryable) changes nothing. Returns each row as it was."""
    from mailbot.store.outbox_admin import OutboxAdmin

    with db.transaction() as session:
        admin = OutboxAdmin(session)
        if ids is None:
            wanted = admin.failed_ids()
        else:
            wanted = list(dict.fromkeys(ids))
            states = admin.states(wanted)
            missing = [str(i) for i in wanted if i not in states]
            if missing:
                raise NotFound(f"outbox row {', '.join(missing)}: not found")
            busy = [f"{i} is {s}" for i, s in states.items() if s != "failed"]
            if busy:
                raise NotRetryable(
                    f"outbox row {', '.join(busy)}: only failed rows are put back in the queue"
                )
        rows = admin.retry(wanted, now) if wanted else []
        events = Events(session)
        for row in rows:
            events.record(
                "reply_retry",
                now,
                ticket_id=row.ticket_id,
                spool_id=row.spool_id,
                outbox_id=row.id,
                message_id=row.message_id,
                by=by,
                attempts=row.attempts,
                error=row.last_error,
            )
        return [
            {"id": row.id, "kind": row.kind, "to": row.to_addr or next(iter(row.rcpt_to), ""),
             "attempts": row.attempts, "last_error": row.last_error, "retried_by": by}
            for row in rows
        ]  # fmt: skip


def _text_of(reply: EmailMessage) -> str:
    body = reply.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""
