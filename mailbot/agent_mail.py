"""agent_mail: an agent's answer by mail — is it really the agent's, and applying it.

Recognising: a mail to a signed address of the desk (support+cbx-000042.<sig>@desk), or from
one of the desk's agents, claims agent rights. It gets them only when every check passes (the
signature verifies for the ticket it names and the sender, the sender is an agent of the desk,
the ticket is the desk's, and, where the desk asks for it, a trusted host's DKIM or DMARC pass
for the agent's domain). Anything less is quarantined as `forged_agent_reply` with the check
that failed, and no customer hears of it: a forged From must never speak for the desk.

Applying, in ONE transaction like every outcome: the spool item finished (outcome
`agent_reply`), the agent's mail kept on the ticket (its cleaned text, the agent as author),
and `agent_commands.handle_agent_answer`, which answers the customer. When that refuses (a bad
command, a solved ticket), all of it is rolled back and a second transaction finishes the
item with reason `agent_command_refused` and tells the agent why: the customer gets nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mailbot import authentication
from mailbot.agent_address import Secrets, SignedAddress, parse_signed, signature, verify
from mailbot.agent_commands import handle_agent_answer
from mailbot.agent_notices import notify_agents
from mailbot.config import Agent, AgentAuthentication, DeskSettings
from mailbot.errors import MailbotError
from mailbot.outcomes import (
    NO_REPLIES,
    OLD_MAIL,
    AlreadyDone,
    Outcome,
    Plan,
    finish_item,
    inbound_message,
)
from mailbot.parse import Mail
from mailbot.replies import Attached, Renderer
from mailbot.rules import Verdict
from mailbot.store import Database, Events, Messages, SpoolState, Tickets

FORGED = "forged_agent_reply"
COMMAND_REFUSED = "agent_command_refused"
"""The reason of an agent's answer that was not applied (the agent was told why)."""
REFUSED_TEMPLATE = "agent_command_refused"


def signed_recipient(desk: DeskSettings, addresses: Iterable[str]) -> SignedAddress | None:
    """The first signed address of this desk among `addresses`."""
    for address in addresses:
        signed = parse_signed(address)
        if signed is not None and signed.base in desk.addresses:
            return signed
    return None


def recipients_of(mail: Mail, rcpt_to: Sequence[str]) -> list[str]:
    """Where the mail went: the envelope first, then To and Cc."""
    return [*rcpt_to, *mail.to, *mail.cc]


def claims_agent_rights(desk: DeskSettings, mail: Mail, rcpt_to: Sequence[str]) -> bool:
    """Whether the mail must pass the agent checks instead of the customer rules."""
    return (
        signed_recipient(desk, recipients_of(mail, rcpt_to)) is not None
        or desk.agent(mail.from_addr) is not None
    )


@dataclass(frozen=True)
class Verified:
    agent: Agent
    number: str


def check(
    desk: DeskSettings,
    mail: Mail,
    rcpt_to: Sequence[str],
    secrets_ok: Callable[[SignedAddress, str], bool],
    signs_for: Callable[[str, str], str],
    ticket_on_desk: Callable[[str], bool],
) -> Verified | str:
    """The verified agent and ticket, or what failed (the quarantine's detail).

    `secrets_ok(signed, address)` verifies a signature; `signs_for(number, address)` is the
    signature the current secret makes (to tell "another ticket" from "tampered");
    `ticket_on_desk(number)` asks the store."""
    sender = mail.from_addr
    signed = signed_recipient(desk, recipients_of(mail, rcpt_to))
    agent = desk.agent(sender)
    if signed is None:
        return (
            f"no signature: {sender} is an agent of {desk.name} but wrote to no signed reply"
            " address (answer from the notice's Reply-To)"
        )
    if agent is None:
        return f"stranger: {sender or '(no sender)'} is not an agent of {desk.name}"
    if not secrets_ok(signed, agent.address):
        other = next(
            (a.address for a in desk.agents if a != agent and secrets_ok(signed, a.address)),
            None,
        )
        if other is not None:
            return f"other agent: the address was signed for {other}, the mail is from {sender}"
        named = _numbers_in_subject(desk, mail.subject)
        for number in named - {signed.number}:
            if signs_for(number, agent.address) == signed.signature:
                return (
                    f"wrong ticket: the signature is {sender}'s for {number},"
                    f" the address names {signed.number}"
                )
        return f"tampered: the signature does not match {signed.number} and {sender}"
    if not ticket_on_desk(signed.number):
        return f"wrong ticket: {signed.number} is no ticket of {desk.name}"
    if desk.agent_authentication is not None:
        why = unauthenticated(desk.agent_authentication, mail, agent)
        if why is not None:
            return f"no auth pass: {why}"
    return Verified(agent, signed.number)


def _numbers_in_subject(desk: DeskSettings, subject: str) -> set[str]:
    pattern = rf"\b{re.escape(desk.ticket_prefix)}-\d{{6,}}\b"
    return {m.upper() for m in re.findall(pattern, subject, re.IGNORECASE)}


def unauthenticated(required: AgentAuthentication, mail: Mail, agent: Agent) -> str | None:
    """Why the mail lacks the authentication the desk requires, or None when it has it
    (a trusted host's pass for the agent's domain: see authentication.py)."""
    checked = authentication.check(
        mail.headers,
        authentication.domain_of(agent.address),
        required.trusted_hosts,
        required.methods,
    )
    return None if checked.ok else checked.why


def verify_with(
    secrets: Secrets,
) -> tuple[Callable[[SignedAddress, str], bool], Callable[[str, str], str]]:
    """The two signature functions `check` takes, over the runtime secrets."""
    return (
        lambda signed, address: verify(secrets, signed, address),
        lambda number, address: signature(secrets.signing, number, address),
    )


_GENERIC = ("", "application/octet-stream")


def attachments_of(mail: Mail) -> list[Attached]:
    """The agent's files as the customer gets them: typed by what they are (sniffed), by what
    the agent's client declared only where sniffing knows no better."""
    return [
        Attached(
            a.filename,
            a.declared_type if a.sniffed_type in _GENERIC else a.sniffed_type,
            a.content,
        )
        for a in mail.attachments
    ]


# -- applying ------------------------------------------------------------------------------


def record_agent_reply(db: Database, plan: Plan, renderer: Renderer) -> Outcome:
    """The answer to the customer, or (refused) a word to the agent; never half of either."""
    answer = plan.agent_answer
    assert answer is not None
    desk, mail, now = plan.desk, plan.mail, plan.now
    # an agent's mail read again long after (a mailbox reprocessed) or under --no-replies is
    # kept in the history, never acted on: the customer may have had that answer days ago
    held = (NO_REPLIES, plan.replies_suppressed) if plan.replies_suppressed else None
    if held is None and (late := plan.too_late()) is not None:
        held = (OLD_MAIL, late)
    try:
        with db.transaction() as session:
            ticket = Tickets(session).by_number(answer.number, desk=desk.name)
            if ticket is None:  # deleted since the plan: nothing to answer
                raise _Gone(answer.number)
            assert ticket.id is not None
            finish_item(
                session,
                plan.spool_id,
                state=SpoolState.done,
                outcome="agent_reply",
                reason=held[0] if held else None,
                detail=held[1] if held else None,
                desk=desk.name,
                ticket_id=ticket.id,
                at=now,
            )
            Messages(session).add(
                inbound_message(plan, ticket.id, body=answer.text, author=answer.agent.address)
            )
            if held is not None:
                Events(session).record(
                    "reply_suppressed",
                    now,
                    ticket_id=ticket.id,
                    spool_id=plan.spool_id,
                    reply="agent_reply",
                    to=ticket.requester,
                    why=f"{held[1]}; the agent's mail is kept, its answer and commands not applied",
                )
                return Outcome(
                    plan.spool_id,
                    "agent_reply",
                    held[0],
                    held[1],
                    desk=desk.name,
                    ticket=ticket.number,
                )
            handle_agent_answer(
                session,
                desk,
                renderer,
                ticket,
                agent=answer.agent,
                text=answer.text,
                now=now,
                secrets=plan.agent_secrets,
                attachments=attachments_of(mail),
            )
            return Outcome(plan.spool_id, "agent_reply", desk=desk.name, ticket=ticket.number)
    except AlreadyDone:
        return Outcome(plan.spool_id, "already_done", desk=desk.name)
    except MailbotError as exc:  # ActionRefused, CommandRejected, _Gone
        return tell_agent(db, plan, renderer, COMMAND_REFUSED, str(exc))


def tell_agent(db: Database, plan: Plan, renderer: Renderer, reason: str, error: str) -> Outcome:
    """Finish the item without touching the customer, and mail the agent what went wrong."""
    answer = plan.agent_answer
    assert answer is not None
    desk, now = plan.desk, plan.now
    try:
        with db.transaction() as session:
            ticket = Tickets(session).by_number(answer.number, desk=desk.name)
            ticket_id = ticket.id if ticket is not None else None
            finish_item(
                session,
                plan.spool_id,
                state=SpoolState.done,
                outcome="agent_reply",
                reason=reason,
                detail=error,
                desk=desk.name,
                ticket_id=ticket_id,
                at=now,
            )
            Events(session).record(
                COMMAND_REFUSED,
                now,
                ticket_id=ticket_id,
                spool_id=plan.spool_id,
                by=answer.agent.address,
                reason=reason,
                error=error,
            )
            if ticket is not None and plan.agent_secrets is not None:
                notify_agents(
                    session,
                    desk,
                    renderer,
                    ticket,
                    plan.agent_secrets,
                    event=REFUSED_TEMPLATE,
                    now=now,
                    values={"error": error, "answer": answer.text},
                    to=[answer.agent],
                )
    except AlreadyDone:
        return Outcome(plan.spool_id, "already_done", desk=desk.name)
    return Outcome(
        plan.spool_id, "agent_reply", reason, error, desk=desk.name, ticket=answer.number
    )


def record_agent_refusal(db: Database, plan: Plan, verdict: Verdict, renderer: Renderer) -> Outcome:
    """An attachment rule refused the agent's mail: the agent is told, nothing is sent."""
    return tell_agent(db, plan, renderer, verdict.reason, verdict.detail)


class _Gone(MailbotError):
    def __init__(self, number: str) -> None:
        super().__init__(f"ticket {number} no longer exists")
