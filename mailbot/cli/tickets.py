"""`tickets list|show|reply|solve|extend|log`: the queue and what agents do to a ticket."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from tabulate import tabulate

from mailbot.cli import _context as c


@click.group(cls=c.Group)
def tickets() -> None:
    """The ticket queue, one ticket's story, and an agent's actions on it."""


@tickets.command("list")
@click.option("--desk", help="Only this desk.")
@click.option(
    "--state", help="Only tickets in this state (new, open, waiting_customer, solved, closed)."
)
@click.option("--limit", default=50, show_default=True, help="At most this many, in queue order.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def tickets_list(
    ctx: click.Context, desk: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """The queue, in the order it is worked: P1 first, then the earliest due time.

    CleverBox's rule: first in, first out, except highly critical requests, which jump it.
    Solved and closed tickets and those without a running clock come last, newest first.
    """
    from mailbot.views import ticket_json, ticket_queue

    config = c.config(ctx)
    rows = ticket_queue(c.queue_reader(ctx), desk=desk, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps([ticket_json(t, config) for t in rows], ensure_ascii=False))
        return
    if not rows:
        click.echo("no tickets")
        return
    zones = {name: d.zone for name, d in config.desks.items()}

    def local(desk_name: str, value: datetime | None) -> str:
        zone = zones.get(desk_name)
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value and zone else ""

    click.echo(
        tabulate(
            [
                [
                    t.number,
                    t.desk,
                    t.state,
                    t.priority or "",
                    t.requester,
                    c.short(t.subject, 40),
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
    "--json", "as_json", is_flag=True, help="The ticket, its messages and history as JSON."
)
@click.pass_context
def tickets_show(ctx: click.Context, number: str, as_json: bool) -> None:
    """Show one ticket (e.g. CBX-000042) with its messages, replies and history."""
    from mailbot.views import ticket_detail

    data = ticket_detail(c.database(ctx), c.config(ctx), number)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{data['number']}  [{data['state']}]  {data['subject']}")
    click.echo(f"desk {data['desk']}, from {data['requester_name']} <{data['requester']}>")
    click.echo(f"received {data['received_at']}, answer due {data['first_response_due']}")
    for m in data["messages"]:
        click.echo(f"\n--- {m['direction']} {m['received_at']} {m['from_addr']}: {m['subject']}")
        click.echo(c.short(m["body_text"].strip(), 2000))
    click.echo("\nreplies:")
    click.echo(
        tabulate(
            [
                [r["kind"], r["state"], r["attempts"], r["sent_at"] or "", r["last_error"] or ""]
                for r in data["replies"]
            ],
            headers=["kind", "state", "tries", "sent", "error"],
        )
    )
    click.echo("\nhistory:")
    for e in data["events"]:
        why = f": {e['why']}" if e.get("why") else ""  # e.g. why no reply went out
        click.echo(f"  {e['at']}  {e['kind']}{why}")


@tickets.command("reply")
@click.argument("number")
@click.option("--message", "-m", help="The answer's text.")
@click.option(
    "--file",
    "path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Read the answer's text from this file.",
)
@click.option(
    "--wait", is_flag=True, help="It asks the customer something: the clocks wait for the answer."
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
@click.option("--hours", type=float, required=True, help="The new resolution target, in hours.")
@click.option("--reason", required=True, help="Why; the customer's notice quotes it.")
@click.option("--by", help="Who extends it (default: $USER).")
@c.now_option
@click.pass_context
def tickets_extend(
    ctx: click.Context, number: str, hours: float, reason: str, by: str | None
) -> None:
    """Extend the resolution deadline (e.g. 24 -> 72 h) with a notice to the customer.

    Only before the old deadline: the regulation allows it only with a notice.
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
@click.option("--minutes", type=click.IntRange(min=1), required=True, help="Time spent.")
@click.option("--note", default="", help="What it was spent on.")
@click.option("--by", help="Who (default: $USER).")
@c.now_option
@click.pass_context
def tickets_log(ctx: click.Context, number: str, minutes: int, note: str, by: str | None) -> None:
    """Log time spent on a ticket; it is deducted from the customer's prepaid package."""
    from mailbot.actions import log_time

    app = c.app(ctx)
    result = log_time(
        app.db, app.config, number, minutes=minutes, by=c.who(by), note=note, now=c.now(ctx)
    )
    click.echo(json.dumps(result, ensure_ascii=False))
