"""conversation: a ticket's messages as a person reads the thread — who wrote each, when in
the desk's time zone, what they newly wrote, what they attached. Assembled from rows the
caller read (views.ticket_detail), so it touches no store of its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from mailbot.textnorm import new_text

if TYPE_CHECKING:
    from mailbot.config import DeskSettings
    from mailbot.store import Message, OutboxRow, Ticket


def conversation(
    ticket: Ticket,
    messages: Sequence[Message],
    outbox: Sequence[OutboxRow],
    desk: DeskSettings | None,
) -> list[dict[str, Any]]:
    """The messages as a person reads the thread: who wrote each (the agent behind the desk's
    address, internal notes marked), when in the desk's time zone, what they newly wrote
    (quoted history and signature left out: the earlier messages are right above), what
    they attached, and for our mails to whom (the customer, or agents: a notice), which
    mail it was and whether it went out."""
    zone = desk.zone if desk is not None else UTC
    sent = {o.message_id: o for o in outbox}
    thread = []
    for m in messages:
        reply = sent.get(m.message_id)
        thread.append(
            {
                "direction": m.direction,
                "who": _who(m, ticket, desk),
                "from": m.from_addr,
                "to": list(reply.rcpt_to) if reply is not None else None,
                "author": m.author,
                "at": m.received_at.astimezone(zone).isoformat(),
                "subject": m.subject,
                "text": new_text(m.body_text) or m.body_text.strip(),
                "attachments": list(m.attachments),
                "kind": reply.kind if reply is not None else None,
                "delivery": reply.state if reply is not None else None,
                "message_id": m.message_id,
                "notes": m.notes,
            }
        )
    return thread


def _who(message: Message, ticket: Ticket, desk: DeskSettings | None) -> str:
    """`Олена Коваль <olena@vector.test>`; `CleverBox:CRM (agent Olena K.) <support@…>`."""
    agents = {a.address: a.display_name for a in desk.agents} if desk is not None else {}
    agent = agents.get(message.author, message.author) if message.author else None
    address = f"<{message.from_addr}>"
    if message.direction == "note":
        return f"internal note by {agent or message.from_addr}"
    if message.direction == "out":
        desk_name = desk.display_name if desk is not None else ticket.desk
        return f"{desk_name} (agent {agent}) {address}" if agent else f"{desk_name} {address}"
    if agent:
        return f"{agent} (agent) {address}"
    name = ticket.requester_name if message.from_addr == ticket.requester else ""
    return f"{name} {address}" if name else message.from_addr
