"""`sla check|report|availability`: deadlines — notices to agents, monthly reports, credits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from mailbot.cli import _context as c


@click.group(cls=c.Group)
def sla() -> None:
    """Send SLA warnings and breach notices, and report on deadlines met and missed."""


@sla.command("check")
@c.now_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the notices that are due, with dry_run true; record and send nothing.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Act even though --now is later than the system clock: record the notices and "
    "queue their mails as of that moment (a replay, or a test).",
)
@click.pass_context
def sla_check(ctx: click.Context, dry_run: bool, force: bool) -> None:
    """Mail the agents each warning and breach notice that is due (each once); for cron.

    `mailbot serve` does the same every 30 seconds. Prints one JSON line per notice: ticket,
    desk, kind (sla_warning or sla_breach), clocks, due (the desk's time with its offset),
    share of the target used, and the agents it goes to.

    A --now later than the system clock is a dry run unless --force is given: it prints
    what would be sent then and writes nothing, so a look ahead cannot use up the real
    notices. A dry run says so on stderr and marks each line with "dry_run": true.
    """
    from mailbot.clock import system_clock
    from mailbot.escalation import check

    now = c.now(ctx)
    ahead = now > system_clock()
    simulate = dry_run or (ahead and not force)
    app = c.app(ctx)
    notices = check(app.db, app.config, app.renderer, now, dry_run=simulate)
    for notice in notices:
        click.echo(json.dumps(notice, ensure_ascii=False))
    if simulate:
        why = (
            f"--now {now.isoformat()} is later than the system clock"
            if ahead and not dry_run
            else "--dry-run"
        )
        click.echo(
            f"dry run ({why}): {len(notices)} notice(s) would be sent; nothing was recorded"
            f" or queued{' (give --force to act as of that moment)' if ahead else ''}",
            err=True,
        )


@sla.command("report")
@click.option("--desk", required=True, help="The desk to report on.")
@click.option("--month", help="YYYY-MM in the desk's time zone (default: this month).")
@c.now_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
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
    """Report a desk's month per SLA level and per customer: tickets, met, breached, median
    and p90 first response in working hours, and compliance per week (--html charts it).

    Prints a table, or JSON with --json, or CSV with --csv (one of them).
    """
    from mailbot import reports

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    the_desk = c.known_desk(c.config(ctx), desk)
    now = c.now(ctx)
    month = month or now.astimezone(the_desk.zone).strftime("%Y-%m")
    try:
        report = reports.build(c.database(ctx), the_desk, month, now)
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
@click.option(
    "--target", default=0.98, show_default=True, help="The availability promised, as a fraction."
)
@click.option(
    "--credit-factor",
    default=3.0,
    show_default=True,
    help="Credit, as a multiple of the outage time, when under target.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
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
    """Work out a month's availability and, under the target, the credit owed (crmonline:
    98 %, three times the outage)."""
    from mailbot.prepaid import availability

    the_desk = c.known_desk(c.config(ctx), desk)
    spans = [(c.moment(a), c.moment(b)) for a, b in outages]
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
