"""`tickets list|show|reply|solve|close|extend|log|priority|assign|escalate`: the queue and
what agents do to a ticket."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click
from tabulate import tabulate

from mailbot.agent_address import Secrets
from mailbot.cli import _context as c
from mailbot.config import Config
from mailbot.rules import DOUBT_REASONS
from mailbot.store.reader import TICKET_STATES


@click.group(cls=c.Group)
def tickets() -> None:
    """List the ticket queue, show one ticket's story, and act on a ticket as an agent."""


@tickets.command("list")
@click.option("--desk", help="Only this desk (its name, as `mailbot check-config` lists them).")
@click.option("--state", type=click.Choice(TICKET_STATES), help="Only tickets in this state.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many, in queue order.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def tickets_list(
    ctx: click.Context, desk: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """List the queue in the order it is worked: P1 and critical first, then the earliest
    due time.

    CleverBox's rule: first in, first out, except highly critical requests (priority
    "critical": restoring the system or a module), which jump it.
    Solved and closed tickets and those without a running clock come last, newest first.
    Times are in each desk's time zone, with the offset.
    """
    from mailbot.views import ticket_json, ticket_queue

    config = c.config(ctx)
    if desk is not None:
        c.known_desk(config, desk)  # a typo must not read as "no tickets"
    rows = ticket_queue(c.queue_reader(ctx), desk=desk, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps([ticket_json(t, config) for t in rows], ensure_ascii=False))
        return
    if not rows:
        click.echo("no tickets")
        return
    zones = {name: d.zone for name, d in config.desks.items()}

    def local(desk_name: str, value: datetime | None) -> str:
        zone = zones.get(desk_name, UTC)
        return c.when(value, zone) if value else "-"

    click.echo(
        tabulate(
            [
                [
                    t.number,
                    t.desk,
                    t.state,
                    t.priority or "-",
                    c.safe(t.requester),
                    c.short(c.safe(t.subject), 40),
                    local(t.desk, t.received_at),
                    "paused"
                    if t.sla_clock and t.sla_running_since is None
                    else local(t.desk, t.first_response_due),
                    local(t.desk, t.resolution_due),
                ]
                for t in rows
            ],
            headers=[
                "ticket",
                "desk",
                "state",
                "prio",
                "requester",
                "subject",
                "received",
                "answer due",
                "solve by",
            ],
        )
    )


@tickets.command("show")
@click.argument("number")
@click.option(
    "--json", "as_json", is_flag=True, help="The ticket, its conversation and history as JSON."
)
@click.pass_context
def tickets_show(ctx: click.Context, number: str, as_json: bool) -> None:
    """Show one ticket (its number, like CBX-000042): the conversation as a person reads it,
    in the desk's time zone, then the replies' delivery and the history.

    Control characters a mail carries (a terminal escape in a subject) are shown escaped,
    like \\x1b; --json gives every text exactly as received."""
    from mailbot.views import ticket_detail

    config = c.config(ctx)
    data = ticket_detail(c.database(ctx), config, number)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    desk = config.desks.get(data["desk"])
    zone = desk.zone if desk is not None else UTC
    click.echo(f"{data['number']}  [{data['state']}]  {c.safe(data['subject'])}")
    name = c.safe(data["requester_name"]) if data["requester_name"] else ""
    requester = f"{name} <{c.safe(data['requester'])}>".strip()
    click.echo(f"desk {data['desk']}, from {requester}")
    dues = [("answer due", "first_response_due"), ("solve by", "resolution_due")]
    click.echo(
        ", ".join(
            [f"received {c.when(data['received_at'], zone)}"]
            + [f"{label} {c.when(data[key], zone)}" for label, key in dues if data.get(key)]
        )
    )
    for m in data["messages"]:
        to = f" → {c.safe(', '.join(m['to']))}" if m["to"] else ""
        sent = f" · {m['kind']}, {m['delivery']}" if m["kind"] else ""
        click.echo(f"\n── {c.when(m['at'], zone)} · {c.safe(m['who'])}{to}{sent}")
        if m["direction"] == "note":
            click.echo("   (internal note: not sent to the customer)")
        click.echo(f"   {c.safe(m['subject'])}")
        for line in _trimmed(m["text"]).splitlines():
            click.echo(f"   {c.safe(line, keep_tab=True)}" if line else "")
        if m["attachments"]:
            names = ", ".join(c.safe(a.get("name") or "(no name)") for a in m["attachments"])
            click.echo(f"   attachments: {names}")
    click.echo("\nreplies:")
    click.echo(
        tabulate(
            [
                [
                    r["kind"],
                    r["state"],
                    r["attempts"],
                    c.when(r["sent_at"], zone),
                    c.safe(r["last_error"]),
                ]
                for r in data["replies"]
            ],
            headers=["kind", "state", "tries", "sent", "error"],
        )
    )
    click.echo("\nhistory:")
    for e in data["events"]:
        why = f": {c.safe(e['why'])}" if e.get("why") else ""  # e.g. why no reply went out
        if e["kind"] in DOUBT_REASONS:  # a weak match: what it may be about, and the words
            doubt = str(e.get("detail") or "").removeprefix(f"{e['kind']}: ")
            why = f": {c.safe(c.short(doubt, DOUBT_WIDTH))}" if doubt else ""
            if e.get("passage"):
                why += f'\n      in the mail: "{c.safe(e["passage"])}"'
        click.echo(f"  {c.when(e['at'], zone)}  {e['kind']}{why}")


DOUBT_WIDTH = 160
"""A doubt's detail shown up to this many characters: the phrase it names may list dozens of
alternatives; the customer's words it matched follow on their own line (--json has all)."""


SHOWN_LINES = 25
"""A message's lines shown before `… N more lines`: the thread stays readable; --json has all."""


def _trimmed(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= SHOWN_LINES:
        return c.short(text, 4000)
    return "\n".join(lines[:SHOWN_LINES]) + f"\n… {len(lines) - SHOWN_LINES} more lines"


@tickets.command("reply")
@click.argument("number")
@click.option("--message", "-m", help="The text of the answer.")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the answer's text from this file.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="The answer asks the customer something: the clocks wait for their reply.",
)
@click.option("--by", help="The agent (default: $USER), kept in the history and the signature.")
@c.now_option
@click.pass_context
def tickets_reply(
    ctx: click.Context,
    number: str,
    message: str | None,
    path: Path | None,
    wait: bool,
    by: str | None,
) -> None:
    """Answer the customer (threaded in their mail client); stops the first-response clock."""
    from mailbot.actions import respond

    if message is not None and path is None:
        text = message
    elif path is not None and message is None:
        text = path.read_text()
    else:
        raise click.UsageError("give the answer with --message or --file (one of them)")
    app = c.app(ctx)
    result = respond(
        app.db,
        app.config,
        app.renderer,
        number,
        by=c.who(by),
        text=text,
        now=c.now(ctx),
        wait_for_customer=wait,
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("solve")
@click.argument("number")
@click.option("--by", help="Who solved it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_solve(ctx: click.Context, number: str, by: str | None) -> None:
    """Mark solved: the resolution clock stops; a later mail from the customer reopens it."""
    from mailbot.actions import solve

    app = c.app(ctx)
    result = solve(app.db, app.config, app.renderer, number, by=c.who(by), now=c.now(ctx))
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("extend")
@click.argument("number")
@click.option(
    "--hours",
    type=float,
    required=True,
    help="The new resolution target, in working hours from arrival (at most the desk's cap).",
)
@click.option("--reason", required=True, help="Why; the customer's notice quotes it.")
@click.option("--by", help="Who extends it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_extend(
    ctx: click.Context, number: str, hours: float, reason: str, by: str | None
) -> None:
    """Extend the resolution deadline (from 24 to 72 hours, say) with a notice to the customer.

    Only before the old deadline: the regulation allows it only with a notice. A desk's
    `[sla] max_resolution_hours` caps the new target (working hours from arrival, however
    many extensions); more is refused (exit 3), saying what is still allowed.
    """
    from mailbot.actions import extend

    app = c.app(ctx)
    result = extend(
        app.db,
        app.config,
        app.renderer,
        number,
        hours=hours,
        reason=reason,
        by=c.who(by),
        now=c.now(ctx),
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("log")
@click.argument("number")
@click.option(
    "--minutes", type=click.IntRange(min=1), required=True, help="Minutes spent on the ticket."
)
@click.option("--note", default="", help="What the time was spent on.")
@click.option("--by", help="Who spent it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_log(ctx: click.Context, number: str, minutes: int, note: str, by: str | None) -> None:
    """Log time spent on a ticket; it is deducted from the customer's prepaid package.

    Refused (exit 3) on a ticket without a customer and on a desk that sells no packages:
    there would be no package to deduct it from.
    """
    from mailbot.actions import log_time

    app = c.app(ctx)
    result = log_time(
        app.db, app.config, number, minutes=minutes, by=c.who(by), note=note, now=c.now(ctx)
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("close")
@click.argument("number")
@click.option("--by", help="Who closes it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_close(ctx: click.Context, number: str, by: str | None) -> None:
    """Close for good: solved first if it was not (the customer is told), and a later mail
    from the customer opens a new ticket that links this one instead of reopening it."""
    from mailbot.actions import close

    app = c.app(ctx)
    result = close(app.db, app.config, app.renderer, number, by=c.who(by), now=c.now(ctx))
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("priority")
@click.argument("number")
@click.argument("priority", type=click.Choice(["P1", "P2", "P3", "P4"], case_sensitive=False))
@click.option("--by", help="Who sets it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_priority(ctx: click.Context, number: str, priority: str, by: str | None) -> None:
    """Set the priority (P1 to P4); the SLA target and due times follow it, from the same
    start."""
    from mailbot.actions import set_priority

    app = c.app(ctx)
    result = set_priority(
        app.db, app.config, number, priority=priority.upper(), by=c.who(by), now=c.now(ctx)
    )
    click.echo(json.dumps(result, ensure_ascii=False))


def _secrets(config: Config) -> Secrets:
    """The agent-mail secrets, so a notice's Reply-To is signed like the ones serve sends."""
    from mailbot.agent_address import load_secrets

    env = config.settings.agent_mail.secret_env
    return load_secrets(os.environ.get(env), config.agent_secret_file)


@tickets.command("assign")
@click.argument("number")
@click.argument("agent")
@click.option("--by", help="Who assigns it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_assign(ctx: click.Context, number: str, agent: str, by: str | None) -> None:
    """Give the ticket to AGENT (an agent's address or name): the customer's follow-ups go to
    that agent alone, who is told by mail."""
    from mailbot.actions import assign

    app = c.app(ctx)
    result = assign(
        app.db,
        app.config,
        app.renderer,
        number,
        agent=agent,
        by=c.who(by),
        now=c.now(ctx),
        secrets=_secrets(app.config),
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("escalate")
@click.argument("number")
@click.option("--by", help="Who escalates it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_escalate(ctx: click.Context, number: str, by: str | None) -> None:
    """Escalate to the next solver level (L1 -> L2 -> L3): its agents are told by mail;
    nobody there owns it until one is assigned."""
    from mailbot.actions import escalate

    app = c.app(ctx)
    result = escalate(
        app.db,
        app.config,
        app.renderer,
        number,
        by=c.who(by),
        now=c.now(ctx),
        secrets=_secrets(app.config),
    )
    click.echo(json.dumps(result, ensure_ascii=False))
