"""agent_commands: what an agent's answer does to its ticket. PLACEHOLDER of the agent-mail
branch: it only answers the customer. The commands (#status #priority #assign #escalate
#internal #time #extend #confirmed #fixed) come with the real module, same signature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mailbot.actions import ActionRefused, respond_in
from mailbot.config import Agent, DeskSettings
from mailbot.replies import Attached, Renderer
from mailbot.store import Session, Ticket


class CommandRejected(ActionRefused):
    """An unknown or invalid command line: the agent is told, the customer gets nothing."""


def handle_agent_answer(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    agent: Agent,
    text: str,
    now: datetime,
    attachments: Sequence[Attached] = (),
) -> dict[str, Any]:
    """Apply an agent's answer inside the caller's transaction; raises ActionRefused (or
    CommandRejected) when it cannot be applied, and the caller rolls everything back."""
    return respond_in(
        session,
        desk,
        renderer,
        ticket,
        by=agent.display_name,
        text=text,
        now=now,
        attachments=attachments,
    )
