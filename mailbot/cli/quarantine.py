"""`quarantine list|show|release`: mail kept aside with a reason."""

from __future__ import annotations

import contextlib
import json
import sys

import click
from tabulate import tabulate

from mailbot.cli import _context as c
from mailbot.errors import Refused

NO_REPLIES = "quarantine release --no-replies: replies suppressed"
"""Why the history says no reply went out after a release with --no-replies."""


@click.group(cls=c.Group)
def quarantine() -> None:
    """List, show and release mail kept aside with a reason."""


@quarantine.command("list")
@click.option(
    "--desk", help="Only mail of this desk (its name, as `mailbot check-config` lists them)."
)
@click.option(
    "--reason", help="Only mail kept for this reason (duplicate, unparseable, no_desk...)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many entries, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def quarantine_list(
    ctx: click.Context, desk: str | None, reason: str | None, limit: int, as_json: bool
) -> None:
    """List quarantined mail, newest first: its id, when it came, its desk, the reason it
    was kept aside and its sender. Times are in the desk's time zone with the offset."""
    from mailbot.views import quarantine_entries, zone_of

    config = c.config(ctx)
    if desk is not None:
        c.known_desk(config, desk)
    entries = quarantine_entries(c.spool(ctx), desk=desk, reason=reason, limit=limit, config=config)
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
                    c.when(e["accepted_at"], zone_of(config, e["desk"])),
                    c.safe(e["desk"]),
                    c.safe(e["reason"]),
                    c.safe(e["from"]),
                    c.short(c.safe(e["detail"] or ""), 50),
                ]
                for e in entries
            ],
            headers=["id", "accepted", "desk", "reason", "from", "detail"],
        )
    )


@quarantine.command("show")
@click.argument("entry")
@click.option("--raw", is_flag=True, help="Write the raw message bytes to stdout, exactly.")
@click.option("--json", "as_json", is_flag=True, help="The entry and its history as JSON.")
@click.pass_context
def quarantine_show(ctx: click.Context, entry: str, raw: bool, as_json: bool) -> None:
    """Show one quarantined mail, named by the reference its refusal gave the sender
    (Q-7F3A9C21, any case, Q- optional) or the first characters of its id (at least 6): why
    it was kept aside, its history, and where its bytes are."""
    from mailbot.views import find_quarantined, quarantine_entry, zone_of

    if raw and as_json:
        raise click.UsageError("give --raw or --json, not both")
    config = c.config(ctx)
    spool = c.spool(ctx)
    if raw:
        sys.stdout.buffer.write(spool.read(find_quarantined(spool.db, entry).id))
        return
    data = quarantine_entry(spool, entry, config)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    zone = zone_of(config, data["desk"])
    shown = {**data, "accepted_at": c.when(data["accepted_at"], zone)}
    for key in (
        "id",
        "reference",
        "state",
        "accepted_at",
        "desk",
        "reason",
        "detail",
        "from",
        "size",
    ):
        click.echo(f"{key:>12}: {c.safe(shown[key])}")
    click.echo(f"{'raw_path':>12}: {c.safe(data['raw_path'])}")
    click.echo("history:")
    for e in data["events"]:
        said = e.get("by") or e.get("reason") or ""
        click.echo(f"  {c.when(e['at'], zone)}  {e['kind']}  {c.safe(said)}".rstrip())


@quarantine.command("release")
@click.argument("entry")
@click.option(
    "--force", is_flag=True, help="Skip the rule that refused it (the admin overrides the policy)."
)
@click.option("--desk", help="Route it to this desk (for mail kept aside with reason no_desk).")
@click.option(
    "--no-replies",
    is_flag=True,
    help="Open or update the ticket but queue no automatic reply (the history says so).",
)
@click.option("--by", default=None, help="Who releases it (default: $USER), kept in the history.")
@c.now_option
@click.pass_context
def quarantine_release(
    ctx: click.Context,
    entry: str,
    force: bool,
    desk: str | None,
    no_replies: bool,
    by: str | None,
) -> None:
    """Run a quarantined mail through the pipeline again and print its new outcome as JSON.
    ENTRY is its reference (Q-7F3A9C21, as its refusal gave it) or the start of its id.

    Without --force the same rules run (useful after fixing a desk's configuration) and the
    outcome is recorded, but a sender never gets the same refusal twice for one mail: if
    the rules refuse it again for the reason already answered, the history records the
    reply as held back. With --force the rule that refused it is skipped for this mail.
    Who released what stays in the history (`quarantine show`).
    """
    from mailbot.pipeline import Worker, process_now
    from mailbot.store import SpoolState
    from mailbot.views import find_quarantined

    if desk is not None:
        c.known_desk(c.config(ctx), desk)
    app = c.app(ctx)
    item = find_quarantined(app.db, entry)
    if item.state != SpoolState.quarantined:
        raise Refused(
            f"spool item {item.id[:12]} is {item.state}, not quarantined: nothing to release"
        )
    who = c.who(by)
    app.spool.release(item.id, by=who, skip_rule=item.reason if force else None)
    worker = Worker(app.pipeline)
    with contextlib.closing(worker):
        line = process_now(worker, item.id, desk, 30.0, NO_REPLIES if no_replies else None)
    click.echo(
        json.dumps(
            {"released_by": who, "forced": force, "no_replies": no_replies, **line},
            ensure_ascii=False,
        )
    )
