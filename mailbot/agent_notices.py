"""agent_notices: a ticket's news mailed to the agents who work it, each mail with a Reply-To
signed for that agent and ticket (agent_address.py), so that the agent's plain "Reply" in any
mail client comes back as that agent's answer.

Who gets it: the explicit `to`, else the ticket's assignee, else the desk's agents at the
ticket's solver level (the lowest configured level at or above it). Queued through the outbox
in the caller's transaction, like every mail mailbot writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mailbot.agent_address import Secrets, signed_address
from mailbot.config import Agent, DeskSettings
from mailbot.outbox import queue_mail
from mailbot.replies import Renderer, format_deadline
from mailbot.store import Message, Messages, Session, Ticket


def recipients(desk: DeskSettings, ticket: Ticket) -> list[Agent]:
    """The assignee when there is one, else everybody at the ticket's level."""
    if ticket.assignee:
        agent = desk.agent(ticket.assignee)
        if agent is not None:
            return [agent]
    levels = sorted({a.level for a in desk.agents if a.level >= ticket.level})
    if not levels:
        levels = sorted({a.level for a in desk.agents})[-1:]
    return [a for a in desk.agents if levels and a.level == levels[0]]


def notify_agents(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    secrets: Secrets,
    *,
    event: str,
    now: datetime,
    values: Mapping[str, Any] | None = None,
    to: Sequence[Agent] | None = None,
    last: Message | None = None,
) -> list[str]:
    """Queue `event` (a template, e.g. agent_notice) to each agent; the Message-IDs queued.
    `last`: the customer's last mail when the caller holds it (it was just added), else it
    is read."""
    assert ticket.id is not None
    if last is None:
        last = Messages(session).last_inbound(ticket.id)
    in_reply_to = last.message_id if last is not None else ""
    due = ticket.first_response_due or ticket.resolution_due
    common = {
        "desk_name": desk.display_name,
        "ticket_number": ticket.number,
        "subject": ticket.subject or "(no subject)",
        "customer_name": ticket.requester_name,
        "requester": ticket.requester,
        "customer": ticket.customer,
        "state": ticket.state,
        "priority": ticket.priority,
        "level": ticket.level,
        "deadline": format_deadline(due, desk, desk.language) if due is not None else None,
        "text": last.body_text if last is not None else "",
        **(values or {}),
    }
    queued = []
    for agent in recipients(desk, ticket) if to is None else to:
        queued.append(
            queue_mail(
                session,
                desk,
                renderer,
                language=desk.language,
                event=event,
                number=ticket.number,
                to=agent.address,
                subject=ticket.subject,
                in_reply_to=in_reply_to,
                references=[in_reply_to] if in_reply_to else [],
                values={**common, "agent_name": agent.display_name},
                ticket_id=ticket.id,
                spool_id=None,
                now=now,
                automatic=True,
                reply_to=signed_address(desk.sender_address, ticket.number, agent.address, secrets),
            )
        )
    return queued
