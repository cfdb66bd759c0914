"""`quarantine list|show|release`: mail kept aside with a reason."""

from __future__ import annotations

import contextlib
import json
import sys

import click
from tabulate import tabulate

from mailbot.cli import _context as c
from mailbot.errors import NotFound


@click.group(cls=c.Group)
def quarantine() -> None:
    """Mail kept aside with a reason: list it, look at it, release it."""


@quarantine.command("list")
@click.option("--desk", help="Only this desk.")
@click.option("--reason", help="Only this reason code (duplicate, unparseable, ...).")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def quarantine_list(
    ctx: click.Context, desk: str | None, reason: str | None, limit: int, as_json: bool
) -> None:
    """Quarantined mail, newest first: its id, reason and sender."""
    from mailbot.views import quarantine_entries

    entries = quarantine_entries(c.spool(ctx), desk=desk, reason=reason, limit=limit)
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False))
        return
    if not entries:
        click.echo("quarantine is empty")
        return
    click.echo(
        tabulate(
            [
                [
                    e["id"][:12],
                    e["accepted_at"][:16],
                    e["desk"] or "",
                    e["reason"],
                    e["from"],
                    c.short(e["detail"] or "", 50),
                ]
                for e in entries
            ],
            headers=["id", "accepted", "desk", "reason", "from", "detail"],
        )
    )


@quarantine.command("show")
@click.argument("entry")
@click.option("--raw", is_flag=True, help="Write the raw message bytes to stdout.")
@click.option("--json", "as_json", is_flag=True, help="The entry and its history as JSON.")
@click.pass_context
def quarantine_show(ctx: click.Context, entry: str, raw: bool, as_json: bool) -> None:
    """One quarantined mail (by the first characters of its id): why, history, and its bytes."""
    from mailbot.views import find_quarantined, quarantine_entry

    spool = c.spool(ctx)
    if raw:
        sys.stdout.buffer.write(spool.read(find_quarantined(spool.db, entry).id))
        return
    data = quarantine_entry(spool, entry)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for key in ("id", "state", "accepted_at", "desk", "reason", "detail", "from", "size"):
        click.echo(f"{key:>12}: {data[key]}")
    click.echo(f"{'raw_path':>12}: {data['raw_path']}")
    click.echo("history:")
    for e in data["events"]:
        click.echo(f"  {e['at'][:19]}  {e['kind']}  {e.get('by') or e.get('reason') or ''}")


@quarantine.command("release")
@click.argument("entry")
@click.option(
    "--force", is_flag=True, help="Skip the rule that refused it (the admin overrides the policy)."
)
@click.option("--desk", help="Route it to this desk (for reason no_desk).")
@click.option("--by", default=None, help="Who releases it (default: $USER), kept in the history.")
@c.now_option
@click.pass_context
def quarantine_release(
    ctx: click.Context, entry: str, force: bool, desk: str | None, by: str | None
) -> None:
    """Run a quarantined mail through the pipeline again; print its new outcome as JSON.

    Without --force the same rules run (useful after fixing a desk's configuration); with
    --force the rule that refused it is skipped for this mail. Who released what stays in
    the history (`quarantine show`).
    """
    from mailbot.pipeline import Worker, process_now
    from mailbot.store import SpoolState
    from mailbot.views import find_quarantined

    app = c.app(ctx)
    item = find_quarantined(app.db, entry)
    if item.state != SpoolState.quarantined:
        raise NotFound(f"quarantine entry {entry}: is {item.state}, not quarantined")
    who = c.who(by)
    app.spool.release(item.id, by=who, skip_rule=item.reason if force else None)
    worker = Worker(app.pipeline)
    with contextlib.closing(worker):
        line = process_now(worker, item.id, desk, 30.0)
    click.echo(json.dumps({"released_by": who, "forced": force, **line}, ensure_ascii=False))
