"""`status`: how the engine is doing — tickets due, spool backlog, outbox, quarantine,
dropped mail, IMAP pollers — and `--check` for a supervisor or cron."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import click

from mailbot.cli import _context as c

UNHEALTHY = 4
"""The exit code of `status --check` when mail is stuck (the project's table of codes)."""


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    from pydantic import TypeAdapter, ValidationError

    from mailbot.config import Age

    try:
        return TypeAdapter(Age).validate_python(value)
    except ValidationError as exc:
        raise click.BadParameter(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


@click.command(short_help="Show tickets due, spool, outbox, quarantine and pollers.")
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=4,
    show_default=True,
    help="Count the tickets whose first response or resolution falls due within this many hours.",
)
@click.option(
    "--since",
    default="24h",
    show_default=True,
    callback=_duration,
    help="The recent window of the quarantine and dropped-mail counts, written like 24h, "
    "90m or 2d.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
@click.option(
    "--check",
    is_flag=True,
    help="Print only the health verdict and its reasons, and exit 4 when the spool or the "
    "outbox is stuck (0 when healthy).",
)
@c.now_option
@click.pass_context
def status(ctx: click.Context, hours: float, since: timedelta, as_json: bool, check: bool) -> None:
    """Show how the engine is doing: per desk the tickets by state and how many are breached
    or fall due soon, the spool's backlog and its oldest mail, the outbox (pending, retrying,
    failed with the server's answer), quarantined and dropped mail by reason, and when each
    IMAP poller last finished a pass.

    It only reads: it creates and migrates nothing, and is safe beside a running serve.
    Unhealthy means mail waits longer than [metrics] stuck_after (5 minutes by default) in
    the spool, or a reply has been due that long and is not sent; the same rule answers
    serve's /health.
    """
    from mailbot import status as figures
    from mailbot.store.status import open_source

    config = c.config(ctx)
    source = open_source(config.database_url)
    ctx.call_on_close(source.close)
    found = figures.gather(
        source, config, c.now(ctx), due_within=timedelta(hours=hours), since=since
    )
    if as_json:
        data = figures.as_json(found, config)
        if check:
            data = {k: data[k] for k in ("now", "healthy", "problems", "stuck_after_seconds")}
        click.echo(json.dumps(data, ensure_ascii=False))
    elif check:
        click.echo("healthy" if found.healthy else "UNHEALTHY")
        for problem in found.problems:
            click.echo(f"  - {problem}")
    else:
        click.echo("\n".join(figures.as_text(found)))
    if check and not found.healthy:
        sys.exit(UNHEALTHY)
