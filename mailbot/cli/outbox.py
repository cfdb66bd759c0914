"""`outbox list|retry`: replies waiting to leave, and the ones the relay refused."""

from __future__ import annotations

import json

import click
from tabulate import tabulate

from mailbot.cli import _context as c


@click.group(cls=c.Group)
def outbox() -> None:
    """Replies waiting to leave and the ones that could not be delivered: list them, and put
    failed ones back in the queue."""


@outbox.command("list", short_help="List pending and failed replies with the relay's answer.")
@click.option(
    "--state",
    type=click.Choice(["pending", "failed", "sent"]),
    help="Only rows in this state. Default: pending and failed, the ones worth a look.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many rows, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array for scripts.")
@click.pass_context
def outbox_list(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """List outbox rows, newest first: id, ticket, kind, recipient, attempts, next attempt
    and the relay's last answer. It only reads, and is safe beside a running serve."""
    from mailbot.status import outbox_listing, printable
    from mailbot.store.status import open_source

    config = c.config(ctx)
    source = open_source(config.database_url)
    ctx.call_on_close(source.close)
    rows = outbox_listing(source, config, state=state, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {state or 'pending or failed'} rows in the outbox")
        return
    click.echo(
        tabulate(
            [
                [
                    r["id"],
                    r["ticket"] or "-",
                    r["kind"],
                    printable(c.short(r["to"] or "-", 40)),
                    r["state"],
                    r["attempts"],
                    r["next_attempt_at"] or "-",
                    printable(c.short(r["last_error"] or "-", 60)),
                ]
                for r in rows
            ],
            headers=[
                "id",
                "ticket",
                "kind",
                "to",
                "state",
                "attempts",
                "next attempt",
                "last error",
            ],
        )
    )


@outbox.command("retry", short_help="Put failed replies back in the queue.")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--all-failed", is_flag=True, help="Retry every failed row.")
@click.option("--by", default=None, help="Who retries them (default: $USER), kept in the history.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per row put back.")
@c.now_option
@click.pass_context
def outbox_retry(
    ctx: click.Context, ids: tuple[int, ...], all_failed: bool, by: str | None, as_json: bool
) -> None:
    """Put failed outbox rows back in the queue, due now, with a fresh count of attempts: a
    running serve sends them within seconds. Give row ids (from `mailbot outbox list`) or
    --all-failed.

    The very same mail is sent (same bytes, same Message-ID), and the retry is kept in the
    ticket's history. An id that does not exist exits 66 and one that is not failed exits
    3; then nothing is changed.
    """
    from mailbot.outbox import retry_failed
    from mailbot.status import printable

    if bool(ids) == all_failed:
        raise click.UsageError("give outbox row ids or --all-failed (one of the two)")
    rows = retry_failed(c.database(ctx), None if all_failed else list(ids), by=c.who(by),
                        now=c.now(ctx))  # fmt: skip
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                printable(
                    f"outbox row {row['id']}: back in the queue, due now (was failed after"
                    f" {row['attempts']} attempt(s): {row['last_error'] or '-'})"
                )
            )
    if not rows and not as_json:
        click.echo("no failed rows in the outbox")
