"""cli: the `mailbot` command (click). Thin: parse options, call a room, print.

Exit codes: 0 done; 1 a mailbot error; 2 a usage error (click); 65 unreadable input;
66 something named was not found; 74 the spool could not store; 78 bad configuration.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy import case, func
from sqlmodel import col, select
from tabulate import tabulate

from mailbot import config as config_mod
from mailbot import logs
from mailbot.clock import Clock, fixed, parse_moment, system_clock
from mailbot.errors import MailbotError, NotFound
from mailbot.store import (
    EventRow,
    Message,
    OutboxRow,
    SpoolItem,
    SpoolState,
    Ticket,
)


def _fail(exc: MailbotError) -> None:
    click.echo(f"mailbot: {exc}", err=True)
    sys.exit(exc.exit_code)


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailbotError as exc:
            _fail(exc)


def _config(ctx: click.Context) -> config_mod.Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = config_mod.load(obj.get("config_path"))
        settings = obj["config"].settings.logging
        logs.setup(settings.level, settings.format)
    return obj["config"]  # type: ignore[no-any-return]


def _app(ctx: click.Context) -> Any:
    from mailbot.service import App

    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        obj["app"] = App.build(_config(ctx), clock=_clock(ctx))
    return obj["app"]


def _clock(ctx: click.Context) -> Clock:
    """The command's one clock: stopped at --now when given, else the system's."""
    moment = ctx.ensure_object(dict).get("now")
    return fixed(moment) if moment is not None else system_clock


def _set_now(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    try:
        ctx.ensure_object(dict)["now"] = parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


now_option = click.option(
    "--now",
    callback=_set_now,
    expose_value=False,
    is_eager=True,
    metavar="ISO",
    help="Act as of this time (ISO 8601 with its offset, e.g. 2026-11-23T10:00+02:00): for "
    "replays and tests. Default: the system clock.",
)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="MAILBOT_CONFIG",
    help="Main configuration file. Default: config/mailbot.toml (or $MAILBOT_CONFIG).",
)
@click.version_option(package_name="mailbot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """mailbot: an e-mail support desk engine.

    Customers write to a desk's address; mailbot keeps every mail durably, opens or updates a
    ticket and answers from templates with the ticket number and the deadline.

    \b
    Start here:
      mailbot check-config      validate config/mailbot.toml and every desk file
      mailbot serve             receive over SMTP, process, send replies
      mailbot ingest FILE...    take .eml files in, one JSON line per message
      mailbot tickets list      the tickets, newest first
    """
    ctx.ensure_object(dict)["config_path"] = config_path


@cli.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the SMTP receiver, the worker and the sender until SIGTERM or Ctrl-C.

    Every message answered with 250 is already on disk; a stop at any moment loses nothing,
    and work left over is taken up on the next start.
    """
    from mailbot.service import serve as run

    run(_config(ctx))


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Process spool items until SIGTERM (serve starts these; run more for more throughput).

    Any number may run, on any host that sees the spool folder and the database: each item
    is claimed by one worker and finished exactly once. On SQLite, keep them on one host.
    """
    from mailbot.service import App, run_worker

    run_worker(App.build(_config(ctx)))


@cli.command("check-config")
@click.option("--json", "as_json", is_flag=True, help="Print the desks as JSON.")
@click.pass_context
def check_config(ctx: click.Context, as_json: bool) -> None:
    """Validate the configuration, desk rules and templates; exit 78 on the first problem."""
    from mailbot.replies import Renderer, sample_values
    from mailbot.rules import load_rules

    config = _config(ctx)
    renderer = Renderer(config.templates_dir)
    for name, desk in config.desks.items():
        load_rules(desk, config.desk_files.get(name, f"desk {name}"))
        renderer.render_text(
            desk.language,
            "ack",
            sample_values(desk),
        )
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
                {"config": str(config.path), "database": config.database_url, "desks": desks},
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


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the schema to the newest version (safe to run any time)."""
    from mailbot.store import Database

    config = _config(ctx)
    db = Database(config.database_url)
    db.upgrade()
    db.dispose()
    click.echo(f"database {config.database_url}: schema up to date")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--desk", help="Route every file to this desk instead of by its recipients.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the default; kept for scripts).")
@click.option(
    "--dry-run", is_flag=True, help="Run every rule and print the outcome; write and send nothing."
)
@click.option(
    "--wait",
    default=30.0,
    show_default=True,
    help="Seconds to wait for an item another process (mailbot serve) is working on.",
)
@now_option
@click.pass_context
def ingest(
    ctx: click.Context,
    files: Sequence[Path],
    desk: str | None,
    as_json: bool,
    dry_run: bool,
    wait: float,
) -> None:
    """Take .eml files in, as if they had arrived now, and process them.

    Prints one JSON line per file: file, spool_id, desk, outcome (ticket, quarantined or
    dropped), ticket, reason, detail, missing, product, type, category, impact, urgency,
    priority, sla_level. Arrival time is taken from the newest Received: header.
    Exits 0 when every file was accepted (whatever its outcome), 66 when some could not be read.
    """
    from mailbot.ingest.files import accept_file, read_file
    from mailbot.pipeline import Worker

    app = _app(ctx)
    if desk and desk not in app.config.desks:
        raise NotFound(
            f"--desk {desk}: no such desk (known: {', '.join(sorted(app.config.desks))})"
        )
    worker = Worker(app.pipeline)
    failed = False
    max_size = app.config.settings.smtp.max_message_size
    # the bar goes to stderr (and only to a terminal), so stdout stays pure JSON lines
    bar = click.progressbar(files, label="ingesting", file=sys.stderr, show_pos=True)
    with bar, contextlib.closing(worker):
        for path in bar:
            line: dict[str, Any]
            if dry_run:
                raw, error = read_file(path, max_size)
                if raw is None:
                    failed = True
                    line = {"spool_id": None, "outcome": "refused", "reason": error}
                else:
                    line = _dry_run(app, raw, desk)
            else:
                accepted = accept_file(app.spool, path, max_size)
                if accepted.spool_id is None:
                    failed = True
                    line = {"spool_id": None, "outcome": "refused", "reason": accepted.error}
                else:
                    line = _process_now(app, worker, accepted.spool_id, desk, wait)
            click.echo(json.dumps({"file": str(path), **line}, ensure_ascii=False))
    if failed:
        sys.exit(NotFound.exit_code)


def _dry_run(app: Any, raw: bytes, desk: str | None) -> dict[str, Any]:
    """What ingest would print: the recorded outcome if these very bytes were taken before."""
    item = _as_file_item(app, raw)
    try:
        known = app.spool.get(item.id)
    except NotFound:
        known = None
    if known is not None and known.state != SpoolState.received:
        line = _item_json(app, known)
    else:
        line = app.pipeline.dry_run(item, raw, desk).as_json()
    line["dry_run"] = True
    return line


def _as_file_item(app: Any, raw: bytes) -> Any:
    import hashlib

    from mailbot.spool import Claimed

    return Claimed(hashlib.sha256(raw).hexdigest(), "file", None, (), app.clock(), 0)


def _process_now(
    app: Any, worker: Any, spool_id: str, desk: str | None, wait: float
) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    while True:
        items = app.spool.claim(worker.name, 1, ids=[spool_id])
        if items:
            outcomes = worker.run_items(items, forced_desk=desk)
            if outcomes and outcomes[0].outcome != "already_done":
                return dict(outcomes[0].as_json())
        item = app.spool.get(spool_id)
        if item.state != SpoolState.received:
            return _item_json(app, item)
        if time.monotonic() > deadline:
            return {
                "spool_id": spool_id,
                "desk": None,
                "outcome": "pending",
                "ticket": None,
                "reason": "still being processed by another worker",
                "detail": item.detail,
            }
        time.sleep(0.1)


def _item_json(app: Any, item: SpoolItem) -> dict[str, Any]:
    """An item finished earlier (the same bytes ingested again): its recorded outcome."""
    from mailbot.rules import ANNOTATION_KEYS

    line: dict[str, Any] = {
        "spool_id": item.id,
        "desk": item.desk,
        "outcome": item.outcome,
        "ticket": None,
        "reason": item.reason,
        "detail": item.detail,
        "missing": [],
        **dict.fromkeys(ANNOTATION_KEYS),
    }
    if item.ticket_id is not None:
        with app.db.reading() as session:
            ticket = session.get(Ticket, item.ticket_id)
        if ticket is not None:
            line["ticket"] = ticket.number
            line["missing"] = list(ticket.missing) if item.outcome == "ticket" else []
            if item.outcome == "ticket":
                line.update({key: getattr(ticket, key) for key in ANNOTATION_KEYS})
    return line


@cli.group()
def quarantine() -> None:
    """Mail kept aside with a reason: list it, look at it, release it."""


def _find_quarantined(app: Any, prefix: str) -> SpoolItem:
    with app.db.reading() as session:
        rows = session.exec(
            select(SpoolItem).where(col(SpoolItem.id).startswith(prefix.lower())).limit(2)
        ).all()
    if len(prefix) < 6 or not rows:
        raise NotFound(f"quarantine entry {prefix}: not found (give at least 6 characters)")
    if len(rows) > 1:
        raise NotFound(f"quarantine entry {prefix}: ambiguous, give more characters")
    item: SpoolItem = rows[0]
    return item


def _sender_of(app: Any, item: SpoolItem) -> str:
    from email.parser import BytesHeaderParser
    from email.utils import parseaddr

    try:
        headers = BytesHeaderParser().parsebytes(app.spool.read(item.id)[:65536])
        return parseaddr(str(headers.get("From", "")))[1] or item.mail_from or ""
    except Exception:  # a display column must not stop the listing
        return item.mail_from or ""


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
    app = _app(ctx)
    with app.db.reading() as session:
        query = (
            select(SpoolItem)
            .where(col(SpoolItem.state) == SpoolState.quarantined)
            .order_by(col(SpoolItem.accepted_at).desc())
            .limit(limit)
        )
        if desk:
            query = query.where(col(SpoolItem.desk) == desk)
        if reason:
            query = query.where(col(SpoolItem.reason) == reason)
        rows = session.exec(query).all()
    entries: list[dict[str, Any]] = [
        {
            "id": r.id,
            "accepted_at": r.accepted_at.isoformat(),
            "desk": r.desk,
            "reason": r.reason,
            "detail": r.detail,
            "from": _sender_of(app, r),
            "size": r.size,
        }
        for r in rows
    ]
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
                    _short(e["detail"] or "", 50),
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
    app = _app(ctx)
    item = _find_quarantined(app, entry)
    if raw:
        sys.stdout.buffer.write(app.spool.read(item.id))
        return
    with app.db.reading() as session:
        events = session.exec(
            select(EventRow).where(col(EventRow.spool_id) == item.id).order_by(col(EventRow.id))
        ).all()
    data: dict[str, Any] = {
        "id": item.id,
        "state": item.state,
        "accepted_at": item.accepted_at.isoformat(),
        "source": item.source,
        "desk": item.desk,
        "reason": item.reason,
        "detail": item.detail,
        "from": _sender_of(app, item),
        "size": item.size,
        "raw_path": str(app.spool.path_of(item.id)),
        "events": [{"kind": e.kind, "at": e.at.isoformat(), **e.detail} for e in events],
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for key in (
        "id",
        "state",
        "accepted_at",
        "desk",
        "reason",
        "detail",
        "from",
        "size",
        "raw_path",
    ):
        click.echo(f"{key:>12}: {data[key]}")
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
@now_option
@click.pass_context
def quarantine_release(
    ctx: click.Context, entry: str, force: bool, desk: str | None, by: str | None
) -> None:
    """Run a quarantined mail through the pipeline again; print its new outcome as JSON.

    Without --force the same rules run (useful after fixing a desk's configuration); with
    --force the rule that refused it is skipped for this mail. Who released what stays in
    the history (`quarantine show`).
    """
    import getpass

    from mailbot.pipeline import Worker

    app = _app(ctx)
    item = _find_quarantined(app, entry)
    if item.state != SpoolState.quarantined:
        raise NotFound(f"quarantine entry {entry}: is {item.state}, not quarantined")
    who = by or getpass.getuser()
    app.spool.release(item.id, by=who, skip_rule=item.reason if force else None)
    worker = Worker(app.pipeline)
    with contextlib.closing(worker):
        line = _process_now(app, worker, item.id, desk, 30.0)
    click.echo(json.dumps({"released_by": who, "forced": force, **line}, ensure_ascii=False))


@cli.group()
def tickets() -> None:
    """Look at tickets."""


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _ticket_json(ticket: Ticket, app: Any) -> dict[str, Any]:
    from mailbot.tickets import deadlines_json

    data = {k: _iso(v) for k, v in ticket.model_dump().items()}
    desk = app.config.desks.get(ticket.desk)
    if desk is not None:
        data.update(deadlines_json(ticket, desk))
    return data


@tickets.command("list")
@click.option("--desk", help="Only this desk.")
@click.option("--state", help="Only tickets in this state (new, open, waiting_customer, solved).")
@click.option("--limit", default=50, show_default=True, help="At most this many, in queue order.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
def tickets_list(
    ctx: click.Context, desk: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """The queue, in the order it is worked: P1 first, then the earliest due time.

    CleverBox's rule: first in, first out, except highly critical requests, which jump it.
    Solved tickets and those without a running clock come last, newest first.
    """
    app = _app(ctx)
    due = func.coalesce(col(Ticket.first_response_due), col(Ticket.resolution_due))
    with app.db.reading() as session:
        query = (
            select(Ticket)
            .order_by(
                case((col(Ticket.state) == "solved", 1), else_=0),
                case((col(Ticket.priority) == "P1", 0), else_=1),
                case((due.is_(None), 1), else_=0),
                due,
                col(Ticket.id).desc(),
            )
            .limit(limit)
        )
        if desk:
            query = query.where(col(Ticket.desk) == desk)
        if state:
            query = query.where(col(Ticket.state) == state)
        rows = session.exec(query).all()
    if as_json:
        click.echo(json.dumps([_ticket_json(t, app) for t in rows], ensure_ascii=False))
        return
    if not rows:
        click.echo("no tickets")
        return
    zones = {name: d.zone for name, d in app.config.desks.items()}

    def local(t: Ticket, value: Any) -> str:
        zone = zones.get(t.desk)
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
                    _short(t.subject, 40),
                    local(t, t.received_at),
                    "paused"
                    if t.sla_clock and t.sla_running_since is None
                    else local(t, t.first_response_due),
                    local(t, t.resolution_due),
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


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@tickets.command("show")
@click.argument("number")
@click.option(
    "--json", "as_json", is_flag=True, help="The ticket, its messages and history as JSON."
)
@click.pass_context
def tickets_show(ctx: click.Context, number: str, as_json: bool) -> None:
    """Show one ticket (e.g. CBX-000042) with its messages, replies and history."""
    app = _app(ctx)
    with app.db.reading() as session:
        ticket = session.exec(select(Ticket).where(col(Ticket.number) == number.upper())).first()
        if ticket is None:
            raise NotFound(f"ticket {number}: not found")
        messages = session.exec(
            select(Message).where(col(Message.ticket_id) == ticket.id).order_by(col(Message.id))
        ).all()
        events = session.exec(
            select(EventRow).where(col(EventRow.ticket_id) == ticket.id).order_by(col(EventRow.id))
        ).all()
        outbox = session.exec(
            select(OutboxRow)
            .where(col(OutboxRow.ticket_id) == ticket.id)
            .order_by(col(OutboxRow.id))
        ).all()
    data = _ticket_json(ticket, app)
    data["messages"] = [
        {k: _iso(v) for k, v in m.model_dump().items() if k != "notes"} | {"notes": m.notes}
        for m in messages
    ]
    data["replies"] = [
        {
            "kind": o.kind,
            "message_id": o.message_id,
            "to": o.rcpt_to,
            "state": o.state,
            "attempts": o.attempts,
            "last_error": o.last_error,
            "sent_at": _iso(o.sent_at),
        }
        for o in outbox
    ]
    data["events"] = [{"kind": e.kind, "at": _iso(e.at), **e.detail} for e in events]
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{ticket.number}  [{ticket.state}]  {ticket.subject}")
    click.echo(f"desk {ticket.desk}, from {ticket.requester_name} <{ticket.requester}>")
    click.echo(
        f"received {ticket.received_at.isoformat()}, answer due {_iso(ticket.first_response_due)}"
    )
    for m in data["messages"]:
        click.echo(f"\n--- {m['direction']} {m['received_at']} {m['from_addr']}: {m['subject']}")
        click.echo(_short(m["body_text"].strip(), 2000))
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
        click.echo(f"  {e['at']}  {e['kind']}")


def _who(by: str | None) -> str:
    import getpass

    return by or getpass.getuser()


def _moment(ctx: click.Context, value: str | None = None) -> Any:
    """A time given on the command line, else the command's clock (--now or the system's)."""
    if value is None:
        return _clock(ctx)()
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


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
@now_option
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

    if (message is None) == (path is None):
        raise click.UsageError("give the answer with --message or --file (one of them)")
    text = message if message is not None else path.read_text()  # type: ignore[union-attr]
    app = _app(ctx)
    result = respond(
        app.db,
        app.config,
        app.renderer,
        number,
        by=_who(by),
        text=text,
        now=_moment(ctx),
        wait_for_customer=wait,
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("solve")
@click.argument("number")
@click.option("--by", help="Who solved it (default: $USER).")
@now_option
@click.pass_context
def tickets_solve(ctx: click.Context, number: str, by: str | None) -> None:
    """Mark solved: the resolution clock stops; a later mail from the customer reopens it."""
    from mailbot.actions import solve

    app = _app(ctx)
    result = solve(app.db, app.config, number, by=_who(by), now=_moment(ctx))
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("extend")
@click.argument("number")
@click.option("--hours", type=float, required=True, help="The new resolution target, in hours.")
@click.option("--reason", required=True, help="Why; the customer's notice quotes it.")
@click.option("--by", help="Who extends it (default: $USER).")
@now_option
@click.pass_context
def tickets_extend(
    ctx: click.Context, number: str, hours: float, reason: str, by: str | None
) -> None:
    """Extend the resolution deadline (e.g. 24 -> 72 h) with a notice to the customer.

    Only before the old deadline: the regulation allows it only with a notice.
    """
    from mailbot.actions import extend

    app = _app(ctx)
    result = extend(
        app.db,
        app.config,
        app.renderer,
        number,
        hours=hours,
        reason=reason,
        by=_who(by),
        now=_moment(ctx),
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@tickets.command("log")
@click.argument("number")
@click.option("--minutes", type=click.IntRange(min=1), required=True, help="Time spent.")
@click.option("--note", default="", help="What it was spent on.")
@click.option("--by", help="Who (default: $USER).")
@now_option
@click.pass_context
def tickets_log(ctx: click.Context, number: str, minutes: int, note: str, by: str | None) -> None:
    """Log time spent on a ticket; it is deducted from the customer's prepaid package."""
    from mailbot.actions import log_time

    app = _app(ctx)
    result = log_time(
        app.db, app.config, number, minutes=minutes, by=_who(by), note=note, now=_moment(ctx)
    )
    click.echo(json.dumps(result, ensure_ascii=False))


@cli.group()
def packages() -> None:
    """Prepaid support hours (crmonline): balance and expiry."""


@packages.command("show")
@click.argument("customer")
@click.option("--desk", help="The desk (default: the one desk that has this customer).")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@now_option
@click.pass_context
def packages_show(ctx: click.Context, customer: str, desk: str | None, as_json: bool) -> None:
    """A customer's package: hours bought, used, left, and expiry in both calendars."""
    from dataclasses import asdict

    from mailbot.actions import logged_hours
    from mailbot.prepaid import balance

    app = _app(ctx)
    found = [
        (d, c)
        for d in app.config.desks.values()
        if desk in (None, d.name)
        for c in d.customers
        if c.name == customer
    ]
    if not found:
        raise NotFound(f"customer {customer!r}: not in any desk file")
    the_desk, the_customer = found[0]
    if the_customer.package is None:
        raise NotFound(f"customer {customer!r} ({the_desk.name}) has no package")
    today = _moment(ctx).astimezone(the_desk.zone).date()
    result = balance(the_customer.package, logged_hours(app.db, the_desk.name, customer), today)
    data = {
        "customer": customer,
        "desk": the_desk.name,
        **{k: str(v) if hasattr(v, "isoformat") else v for k, v in asdict(result).items()},
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{customer} ({the_desk.name})")
    click.echo(f"  hours:     {result.hours:g} bought, {result.used:g} used, {result.left:g} left")
    click.echo(f"  purchased: {result.purchased_solar} (Solar Hijri) = {result.purchased}")
    click.echo(
        f"  expires:   {result.expires_solar} (Solar Hijri) = {result.expires}"
        + ("  EXPIRED" if result.expired else "")
    )


@cli.group()
def sla() -> None:
    """Deadlines: warnings, breaches, reports."""


@sla.command("check")
@now_option
@click.pass_context
def sla_check(ctx: click.Context) -> None:
    """Mail the agents each warning and breach notice that is due (each once); for cron.

    `mailbot serve` does the same every 30 seconds. Prints one JSON line per notice.
    """
    from mailbot.escalation import check

    app = _app(ctx)
    for notice in check(app.db, app.config, app.renderer, _moment(ctx)):
        click.echo(json.dumps(notice, ensure_ascii=False))


@sla.command("report")
@click.option("--desk", required=True, help="The desk to report on.")
@click.option("--month", help="YYYY-MM in the desk's time zone (default: this month).")
@now_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a table.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML page with a weekly chart to this file.",
)
@click.pass_context
def sla_report(
    ctx: click.Context,
    desk: str,
    month: str | None,
    as_json: bool,
    as_csv: bool,
    html_path: Path | None,
) -> None:
    """Per SLA level and per customer: tickets, met, breached, median and p90 first response
    in working hours; and compliance per week (the HTML page charts it)."""
    from mailbot import reports

    app = _app(ctx)
    the_desk = app.config.desks.get(desk)
    if the_desk is None:
        raise NotFound(f"--desk {desk}: no such desk")
    now = _moment(ctx)
    month = month or now.astimezone(the_desk.zone).strftime("%Y-%m")
    try:
        report = reports.build(app.db, the_desk, month, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if html_path is not None:
        html_path.write_text(reports.as_html(report), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(reports.as_json(report), ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(reports.as_csv(report), nl=False)
    else:
        click.echo(reports.as_text(report), nl=False)


@sla.command("availability")
@click.option("--desk", required=True, help="The desk whose service it is.")
@click.option(
    "--month",
    required=True,
    help="1405-08 (Solar Hijri, years before 1700) or 2026-11 (Gregorian).",
)
@click.option(
    "--outage",
    "outages",
    nargs=2,
    multiple=True,
    metavar="START END",
    help="An outage, as two ISO 8601 times with offsets; repeat for each.",
)
@click.option("--target", default=0.98, show_default=True, help="Promised availability.")
@click.option(
    "--credit-factor",
    default=3.0,
    show_default=True,
    help="Credit, as a multiple of the outage time, when under target.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
@click.pass_context
def sla_availability(
    ctx: click.Context,
    desk: str,
    month: str,
    outages: tuple[tuple[str, str], ...],
    target: float,
    credit_factor: float,
    as_json: bool,
) -> None:
    """The month's availability and, under the target, the credit owed (crmonline: 98 %, 3x)."""
    from mailbot.prepaid import availability

    config = _config(ctx)
    the_desk = config.desks.get(desk)
    if the_desk is None:
        raise NotFound(f"--desk {desk}: no such desk")
    spans = [(_moment(ctx, a), _moment(ctx, b)) for a, b in outages]
    for a, b in spans:
        if b <= a:
            raise click.BadParameter(
                f"outage {a.isoformat()} .. {b.isoformat()} ends before it starts"
            )
    result = availability(month, the_desk.zone, spans, target, credit_factor)
    data: dict[str, Any] = {
        "desk": desk,
        "month": month,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "outage_minutes": result.outage.total_seconds() / 60,
        "availability_percent": round(result.availability * 100, 3),
        "target_percent": round(target * 100, 3),
        "credit_minutes": result.credit.total_seconds() / 60,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(
        f"{desk} {month} ({data['start'][:10]} .. {data['end'][:10]}): "
        f"availability {data['availability_percent']:.3f} % (target "
        f"{data['target_percent']:g} %), outage {data['outage_minutes']:g} min, "
        f"credit {data['credit_minutes']:g} min"
    )


def main() -> None:
    cli(obj={})
