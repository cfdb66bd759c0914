"""agent_commands: the `#` lines at the top of an agent's mail, and the agent's answer.

An agent works a ticket from any mail client: the lines at the top of the reply that start
with `#` are commands (`#status solved`, `#priority P1`, `#time 1h30m`...), blank lines
between them allowed; the first other line starts the answer to the customer. Parsing is
pure and never fails (`parse_commands`): a phone's autocorrect, a right-to-left mark or a
decimal comma must not cost the agent their answer, and anything it cannot read is an error
naming the line. `handle_agent_answer` checks every command against the desk and the ticket
before it writes anything, then applies them through `actions`, inside the caller's
transaction (the one that records the agent's mail). On `CommandRejected` the caller rolls
back and mails the agent `COMMAND_HELP`: nothing reaches the customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailbot import actions
from mailbot.agent_address import Secrets
from mailbot.clocks import deadlines_json
from mailbot.config import Agent, DeskSettings
from mailbot.confirmations import confirm_in
from mailbot.errors import Refused
from mailbot.replies import Attached, Renderer
from mailbot.store import Events, Session, Ticket, TicketState

COMMAND_HELP = """\
#status waiting|solved|closed   waiting: you ask the customer, clocks wait; closed is final
#priority P1..P4                a new priority and its SLA target
#assign <agent address or name> the ticket is that agent's; they are told
#escalate                       to the next solver level's agents
#internal                       an internal note: nothing goes to the customer
#time 1h30m [note]              work time logged (also 90m, 2h, 1.5h)
#extend 72h <reason>            resolution target 72 h; the customer is told why
#confirmed                      the customer is told the bug is confirmed
#fixed <release>                the customer is told it is fixed, in that release
#confirm-address                the sender identified by contract number is the customer's"""
"""What an agent whose commands were refused gets back: one line per command, its syntax."""

COMMANDS = (
    "status",
    "priority",
    "assign",
    "escalate",
    "internal",
    "time",
    "extend",
    "confirmed",
    "fixed",
    "confirm-address",
)
STATUSES = ("waiting", "solved", "closed")
MAX_LOGGED_HOURS = 100
"""More in one `#time` is a typo (1500m for 150m) that would silently empty a prepaid package."""
MAX_EXTEND_HOURS = 24 * 365
MAX_ARGUMENT = 200
"""A reason or release longer than this is a paragraph pasted on the wrong line."""

_INVISIBLE = "\ufeff\u200b\u200c\u200d\u200e\u200f\u2060\u202a\u202b\u202c\u202d\u202e"
"""Marks mail clients put before text (byte-order mark, zero-width and direction marks: a
Persian agent's client starts lines with a right-to-left mark)."""
_LINE = re.compile(r"#\s*(?P<name>[^\s:]*)\s*:?\s*(?P<argument>.*)", re.DOTALL)
_NUMBER = r"\d{1,6}(?:[.,]\d{1,4})?"
_DURATION = re.compile(
    rf"(?:(?P<h>{_NUMBER})\s*h)?\s*(?:(?P<m>{_NUMBER})\s*m(?:in)?)?(?=\s|$)", re.IGNORECASE
)
_HOURS = re.compile(rf"(?P<h>{_NUMBER})\s*h?(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    """One command line, read: `argument` in its canonical form (`solved`, `P2`, minutes for
    `#time`, hours for `#extend`), `text` the free words after it (a reason, a note)."""

    name: str
    argument: str
    line_no: int
    line: str
    text: str = ""


@dataclass(frozen=True)
class CommandError:
    line_no: int
    line: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line_no} {self.line!r}: {self.message}"


@dataclass(frozen=True)
class ParsedCommands:
    commands: tuple[Command, ...] = ()
    errors: tuple[CommandError, ...] = ()
    body: str = ""
    """The answer to the customer: everything from the first line that is no command."""

    def named(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)


class CommandRejected(actions.ActionRefused):
    """An unknown or invalid command: the whole mail is refused, the agent is told which line
    and gets `COMMAND_HELP`."""

    def __init__(self, errors: Sequence[CommandError | str]) -> None:
        self.errors = [str(e) for e in errors]
        super().__init__("; ".join(self.errors))


def _clean(line: str) -> str:
    while (stripped := line.strip().strip(_INVISIBLE)) != line:
        line = stripped
    return line


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _minutes(argument: str) -> tuple[int, str] | str:
    """`1h30m`, `90m`, `2h`, `1.5h`, `1,5 h` -> (minutes, the words after); else what is wrong."""
    match = _DURATION.match(argument)
    if match is None or not (match["h"] or match["m"]):
        return f"expected a duration like 1h30m, 90m, 2h or 1.5h, got {argument!r}"
    minutes = round(_number(match["h"] or "0") * 60 + _number(match["m"] or "0"))
    if minutes <= 0:
        return "log at least one minute"
    if minutes > MAX_LOGGED_HOURS * 60:
        return f"at most {MAX_LOGGED_HOURS} h in one #time"
    return minutes, argument[match.end() :].strip()


def _read(name: str, argument: str, line_no: int, line: str) -> Command | str:
    """One command's argument checked and made canonical; a string says what is wrong."""
    words = argument.split()
    if name in ("escalate", "internal", "confirmed", "confirm-address"):
        if argument:
            return f"#{name} takes nothing after it"
        return Command(name, "", line_no, line)
    if name == "status":
        if len(words) != 1 or words[0].lower() not in STATUSES:
            return f"expected #status {'|'.join(STATUSES)}"
        return Command(name, words[0].lower(), line_no, line)
    if name == "priority":
        value = words[0].upper() if len(words) == 1 else ""
        value = f"P{value}" if value in ("1", "2", "3", "4") else value
        if value not in actions.PRIORITIES:
            return "expected #priority P1, P2, P3 or P4"
        return Command(name, value, line_no, line)
    if name == "time":
        read = _minutes(argument)
        if isinstance(read, str):
            return read
        minutes, note = read
        return Command(name, str(minutes), line_no, line, text=note)
    if name == "extend":
        match = _HOURS.match(argument)
        if match is None:
            return "expected #extend <hours>h <reason>, e.g. #extend 72h waiting for the vendor"
        hours = _number(match["h"])
        reason = argument[match.end() :].strip()
        if not 0 < hours <= MAX_EXTEND_HOURS:
            return f"the new target must be more than 0 and at most {MAX_EXTEND_HOURS} h"
        if not reason:
            return "an extension needs its reason: the customer is told it"
        return Command(name, f"{hours:.10g}", line_no, line, text=reason)
    if name == "assign" and not argument:
        return "expected #assign <agent address or name>"
    if name == "fixed" and not argument:
        return "expected #fixed <release>, e.g. #fixed 2.4.1"
    if name in ("assign", "fixed"):
        return Command(name, argument, line_no, line)
    return f"unknown command #{name}"


def parse_commands(text: str) -> ParsedCommands:
    """Split an agent's new text into its command lines and the answer; never raises."""
    lines = text.splitlines()
    commands: list[Command] = []
    errors: list[CommandError] = []
    start = len(lines)
    for index, raw in enumerate(lines):
        line = _clean(raw)
        if not line:
            continue
        if not line.startswith("#"):
            start = index
            break
        match = _LINE.fullmatch(line)
        name = match["name"].lower() if match else ""
        argument = match["argument"].strip() if match else ""
        read: Command | str
        if not name:
            read = "a # with no command after it"
        elif len(argument) > MAX_ARGUMENT:
            read = f"at most {MAX_ARGUMENT} characters after #{name}"
        else:
            read = _read(name, argument, index + 1, line)
        if isinstance(read, str):
            errors.append(CommandError(index + 1, line, read))
        elif commands and any(c.name == read.name for c in commands):
            errors.append(CommandError(index + 1, line, f"#{read.name} given twice"))
        else:
            commands.append(read)
    body = "\n".join(lines[start:]).rstrip()
    return ParsedCommands(tuple(commands), tuple(errors), body)


@dataclass
class _Plan:
    """What the commands will do, decided before anything is written."""

    parsed: ParsedCommands
    assignee: Agent | None = None
    answer: bool = False
    errors: list[CommandError | str] = field(default_factory=list)

    def refuse(self, command: Command, message: str) -> None:
        self.errors.append(CommandError(command.line_no, command.line, message))


def _check(desk: DeskSettings, ticket: Ticket, parsed: ParsedCommands, now: datetime) -> _Plan:
    """Every command against the desk and the ticket; the errors, before any write."""
    plan = _Plan(parsed, errors=[*parsed.errors])
    internal = parsed.named("internal")
    status = parsed.named("status")
    finished = ticket.state in (TicketState.solved, TicketState.closed)
    plan.answer = internal is None and bool(parsed.body.strip())
    if status is not None:
        if status.argument == "waiting" and not plan.answer:
            plan.refuse(
                status,
                "#status waiting needs a question to the customer below the commands"
                + (" (not an #internal note)" if internal is not None else ""),
            )
        elif status.argument == "solved" and finished:
            plan.refuse(status, f"ticket {ticket.number} is already {ticket.state}")
        elif status.argument == "closed" and ticket.state == TicketState.closed:
            plan.refuse(status, f"ticket {ticket.number} is already closed")
    if plan.answer and finished:
        plan.errors.append(
            f"ticket {ticket.number} is {ticket.state}: no answer can be sent to the customer "
            "(write #internal for a note; the ticket reopens when the customer writes)"
        )
    assign = parsed.named("assign")
    escalate = parsed.named("escalate")
    if assign is not None and escalate is not None:
        plan.refuse(escalate, "give #assign or #escalate, not both")
    elif assign is not None:
        try:
            plan.assignee = actions.find_agent(desk, assign.argument)
        except actions.ActionRefused as exc:
            plan.refuse(assign, str(exc))
    elif escalate is not None and actions.next_level(desk, ticket.level) is None:
        plan.refuse(
            escalate, f"the ticket is at level {ticket.level}, the desk's highest with agents"
        )
    extend = parsed.named("extend")
    if extend is not None:
        due = ticket.resolution_due
        if ticket.sla_running_since is None or due is None:
            plan.refuse(extend, f"ticket {ticket.number} has no running resolution clock")
        elif now >= due:
            plan.refuse(extend, "the deadline has passed; an extension needs its notice before")
        elif over_cap := actions.extension_over_cap(desk, ticket, float(extend.argument)):
            plan.refuse(extend, over_cap)
    return plan


def handle_agent_answer(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    *,
    agent: Agent,
    text: str,
    now: datetime,
    secrets: Secrets | None = None,
    attachments: Sequence[Attached] = (),
) -> dict[str, Any]:
    """Apply an agent's mail to `ticket` inside the caller's transaction: the commands, then
    the answer to the customer (unless `#internal` or empty), then `#status solved|closed`.

    Raises `CommandRejected` (an `ActionRefused`) before writing anything when a command is
    unknown, invalid or makes no sense for this ticket; should an action still refuse later
    (an extension that is no longer than the target), it raises the same, and the caller's
    rollback undoes what came before. Returns what was applied, for the outcome's history.
    """
    parsed = parse_commands(text)
    plan = _check(desk, ticket, parsed, now)
    if plan.errors:
        raise CommandRejected(plan.errors)
    applied: list[dict[str, Any]] = []
    events = Events(session)
    for command in _in_order(parsed.commands):
        try:
            detail = _apply(
                session, desk, renderer, ticket, command, plan, agent, now, secrets, attachments
            )
        except actions.ActionRefused as exc:
            why = CommandError(command.line_no, command.line, str(exc))
            raise CommandRejected([why if command.line_no else str(exc)]) from exc
        if command.name == _ANSWER:
            continue  # respond_in keeps its own history (agent_reply, first_response)
        entry = {"name": command.name, "argument": command.argument, **detail}
        if command.text:
            entry["text"] = command.text
        events.record(
            "command", now, ticket_id=ticket.id, by=agent.display_name, agent=agent.address, **entry
        )
        applied.append(entry)
    return {
        "ticket": ticket.number,
        "agent": agent.address,
        "commands": applied,
        "answered": plan.answer,
        "internal": parsed.named("internal") is not None,
        "state": ticket.state,
        "priority": ticket.priority,
        "assignee": ticket.assignee,
        "level": ticket.level,
        **deadlines_json(ticket, desk),
    }


_ANSWER = "(answer)"
"""The answer's place among the commands (no command is called that)."""
_ORDER = (
    "priority",  # the target first: an extension then extends the new one
    "extend",
    "assign",
    "escalate",
    "time",
    "confirm-address",
    "internal",  # the note, or else:
    _ANSWER,  # the answer (with #status waiting: the question)
    "confirmed",
    "fixed",
    "status",  # solved or closed after the answer, as the customer reads them
)


def _in_order(commands: Sequence[Command]) -> list[Command]:
    by_name = {c.name: c for c in commands} | {_ANSWER: Command(_ANSWER, "", 0, "")}
    return [by_name[name] for name in _ORDER if name in by_name]


def _apply(
    session: Session,
    desk: DeskSettings,
    renderer: Renderer,
    ticket: Ticket,
    command: Command,
    plan: _Plan,
    agent: Agent,
    now: datetime,
    secrets: Secrets | None,
    attachments: Sequence[Attached] = (),
) -> dict[str, Any]:
    """One command through its action; what the history keeps of it beyond name/argument."""
    by = agent.display_name
    body = plan.parsed.body
    status = plan.parsed.named("status")
    name = command.name
    if name == _ANSWER:
        if plan.answer:
            waiting = status is not None and status.argument == "waiting"
            actions.respond_in(
                session,
                desk,
                renderer,
                ticket,
                by=by,
                text=body,
                now=now,
                wait_for_customer=waiting,
                attachments=attachments,
            )
        return {}
    if name == "priority":
        old = ticket.priority
        actions.set_priority_in(session, desk, ticket, priority=command.argument, by=by, now=now)
        return {"old": old, "new": command.argument}
    if name == "extend":
        result = actions.extend_in(
            session,
            desk,
            renderer,
            ticket,
            hours=float(command.argument),
            reason=command.text,
            by=by,
            now=now,
        )
        return {"resolution_due": result["resolution_due"]}
    if name == "assign":
        assert plan.assignee is not None
        note = body if plan.parsed.named("internal") else ""
        result = actions.assign_in(
            session,
            desk,
            renderer,
            ticket,
            agent=plan.assignee,
            by=by,
            now=now,
            secrets=secrets,
            note=note,
        )
        return {"assignee": plan.assignee.address, "notified": result["notified"]}
    if name == "escalate":
        old_level = ticket.level
        note = body if plan.parsed.named("internal") else ""
        result = actions.escalate_in(
            session, desk, renderer, ticket, by=by, now=now, secrets=secrets, note=note
        )
        return {"old": old_level, "new": result["level"], "notified": result["notified"]}
    if name == "time":
        actions.log_time_in(
            session, desk, ticket, minutes=int(command.argument), by=by, note=command.text, now=now
        )
        return {}
    if name == "internal":
        if body.strip():
            actions.note_in(session, desk, ticket, author=agent.address, text=body, now=now)
        return {}
    if name == "confirm-address":
        try:
            confirmed = confirm_in(session, desk, ticket, None, by=by, now=now)
        except Refused as exc:
            raise actions.ActionRefused(str(exc)) from exc
        return {"address": confirmed["confirmed"], "customer": confirmed["customer"]}
    if name in ("confirmed", "fixed"):
        event = "bug_confirmed" if name == "confirmed" else "bug_fixed"
        actions.tell_bug_in(
            session, desk, renderer, ticket, event=event, by=by, now=now, release=command.argument
        )
        return {}
    if command.argument == "solved":
        actions.solve_in(session, desk, renderer, ticket, by=by, now=now)
    elif command.argument == "closed":
        actions.close_in(session, desk, renderer, ticket, by=by, now=now)
    return {}
