"""`serve`, `poll`, `worker`, `check-config`, `db upgrade`: running mailbot and setting it up."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from tabulate import tabulate

from mailbot.cli import _context as c
from mailbot.redact import masked


@click.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the SMTP receiver, the workers and the sender until SIGTERM or Ctrl-C.

    Every message answered with 250 is already on disk; a stop at any moment loses nothing,
    and work left over is taken up on the next start. A mail that keeps a worker busy longer
    than worker.item_time_limit seconds is stopped, tried again after the mail behind it,
    and quarantined (processing_error) after spool.max_attempts tries.

    Exit codes: 0 stopped cleanly; 1 serve failed unexpectedly (the log has the traceback;
    a supervisor should restart it); 69 the SMTP port is taken or the database cannot be
    reached; 74 the spool folder cannot be written; 78 bad configuration.
    """
    from mailbot.service import serve as run

    run(c.config(ctx))


@click.command()
@click.option(
    "--mailbox",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only this [[imap]] mailbox (repeatable). Default: every configured one.",
)
@click.option("--once", is_flag=True, help="One pass over each mailbox, then exit.")
@click.option("--json", "as_json", is_flag=True, help="One JSON line per message taken.")
@c.now_option
@click.pass_context
def poll(ctx: click.Context, names: tuple[str, ...], once: bool, as_json: bool) -> None:
    """Read the configured IMAP mailboxes and process their mail, without serve.

    A message is marked on the server (\\Seen and $MailbotTaken) or moved only after its
    ticket or quarantine entry is committed; a stop or crash at any moment leaves it to be
    taken on the next run, never twice. Runs until SIGTERM or Ctrl-C; with --once, one pass.

    Prints a line per message (--json: mailbox, uid, spool_id, outcome, ticket, reason...).
    Exit codes: 0 done; 65 some messages were left on the server (oversized or unreadable,
    see their lines); 69 a server could not be reached or refused the login; 78 no mailbox
    configured or its password missing.
    """
    from mailbot.errors import UnparseableMail
    from mailbot.service import poll as run

    def report(line: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(line, ensure_ascii=False, default=str))
            return
        what = line.get("ticket") or line.get("reason") or ""
        click.echo(f"{line['mailbox']} uid {line['uid']}: {line['outcome']} {what}".rstrip())

    result = run(c.app(ctx), names=names, once=once, report=report)
    if once:
        click.echo(
            f"taken {result.taken}, marked {result.marked}, left on the server {result.skipped},"
            f" still processing {result.waiting}",
            err=True,
        )
    if result.skipped:
        sys.exit(UnparseableMail.exit_code)


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Process spool items until SIGTERM (serve starts these; run more for more throughput).

    Any number may run, on any host that sees the spool folder and the database: each item
    is claimed by one worker and finished exactly once. On SQLite, keep them on one host.
    Serve stops one of its own workers that spends longer than worker.item_time_limit
    seconds on one item; a worker started by hand has no such limit.
    """
    from mailbot.service import PARENT_PID_VARIABLE, App, run_worker

    # serve brought the schema up to date before it started this worker: no second migration
    # (nor alembic's 11 MB in every worker); a worker started by hand migrates as any command
    started_by_serve = PARENT_PID_VARIABLE in os.environ
    run_worker(App.build(c.config(ctx), migrate=not started_by_serve))


@click.command("check-config")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the desks as JSON (passwords masked as ***)."
)
@click.pass_context
def check_config(ctx: click.Context, as_json: bool) -> None:
    """Validate the configuration, desk rules and templates; exit 78 on the first problem."""
    from mailbot.kb import load as load_knowledge_bases
    from mailbot.replies import Renderer, sample_values
    from mailbot.rules import load_rules
    from mailbot.template_coverage import check as check_templates

    config = c.config(ctx)
    load_knowledge_bases(config)
    renderer = Renderer(config.templates_dir)
    for name, desk in config.desks.items():
        source = config.desk_files.get(name, f"desk {name}")
        load_rules(desk, source)
        check_templates(desk, config.templates_dir, source)
        renderer.render_text(desk.language, "ack", sample_values(desk))
    desks = [
        {
            "desk": d.name,
            "addresses": d.addresses,
            "language": d.language,
            "timezone": d.timezone,
            "prefix": d.ticket_prefix,
            "rules": d.rules,
        }
        for d in config.desks.values()
    ]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config": str(config.path),
                    "database": masked(config.database_url),
                    "desks": desks,
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{config.path}: OK, {len(desks)} desk(s)")
    click.echo(
        tabulate(
            [
                [
                    d["desk"],
                    ", ".join(d["addresses"]),
                    d["language"],
                    d["timezone"],
                    d["prefix"],
                    ", ".join(d["rules"]),
                ]
                for d in desks
            ],
            headers=["desk", "addresses", "lang", "time zone", "prefix", "rules"],
        )
    )


@click.group(cls=c.Group)
def db() -> None:
    """Create or migrate the database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the schema to the newest version (safe to run any time)."""
    from mailbot.store import Database

    config = c.config(ctx)
    with c.opening_database(config.database_url):
        database = Database(config.database_url)
        database.upgrade()
        database.dispose()
    click.echo(f"database {masked(config.database_url)}: schema up to date")
