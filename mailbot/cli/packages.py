"""`packages show`: prepaid support hours (crmonline), each package with its own balance."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from mailbot.cli import _context as c
from mailbot.errors import NotFound


@click.group(cls=c.Group)
def packages() -> None:
    """Show prepaid support hours (crmonline): each package's balance and expiry."""


@packages.command("show")
@click.argument("customer")
@click.option("--desk", help="The desk (default: the one desk that has this customer).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@c.now_option
@click.pass_context
def packages_show(ctx: click.Context, customer: str, desk: str | None, as_json: bool) -> None:
    """Show a customer's packages, oldest first: hours bought, used and left, when each was
    bought and expires, in both calendars (Solar Hijri and Gregorian), and whether it is
    valid now. Time is charged to the package valid the day the work was done; time logged
    on free-support tickets is shown as free, and charged work no valid package covered as
    uncovered."""
    from mailbot.actions import packages_of

    config = c.config(ctx)
    if desk is not None:
        c.known_desk(config, desk)
    found = [
        (d, cust)
        for d in config.desks.values()
        if desk in (None, d.name)
        for cust in d.customers
        if cust.name == customer
    ]
    if not found:
        raise NotFound(f"customer {customer!r}: not in any desk file")
    the_desk, the_customer = found[0]
    if not the_customer.packages:
        raise NotFound(f"customer {customer!r} ({the_desk.name}) has no package")
    result = packages_of(c.database(ctx), the_desk, the_customer, c.now(ctx))
    shown = sorted(result.packages, key=lambda b: b.purchased)
    if as_json:
        data: dict[str, Any] = {
            "customer": customer,
            "desk": the_desk.name,
            "packages": [
                {k: str(v) if hasattr(v, "isoformat") else v for k, v in asdict(b).items()}
                for b in shown
            ],
            "left_now": sum(b.left for b in shown if b.valid),
            "free_hours": result.free_hours,
            "uncovered_hours": result.uncovered_hours,
        }
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"{customer} ({the_desk.name})")
    for b in shown:
        state = "valid now" if b.valid else ("EXPIRED" if b.expired else "not yet valid")
        click.echo(f"  package bought {b.purchased_solar} (Solar Hijri) = {b.purchased}: {state}")
        click.echo(f"    hours:   {b.hours:g} bought, {b.used:g} used, {b.left:g} left")
        click.echo(f"    expires: {b.expires_solar} (Solar Hijri) = {b.expires}")
    click.echo(f"  free support (not charged): {result.free_hours:g} h")
    if result.uncovered_hours:
        click.echo(f"  charged work no valid package covered: {result.uncovered_hours:g} h")
