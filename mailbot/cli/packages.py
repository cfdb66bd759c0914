"""`packages show`: prepaid support hours (crmonline)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from mailbot.cli import _context as c
from mailbot.errors import NotFound


@click.group(cls=c.Group)
def packages() -> None:
    """Show prepaid support hours (crmonline): balance and expiry."""


@packages.command("show")
@click.argument("customer")
@click.option("--desk", help="The desk (default: the one desk that has this customer).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@c.now_option
@click.pass_context
def packages_show(ctx: click.Context, customer: str, desk: str | None, as_json: bool) -> None:
    """Show a customer's package: hours bought, used and left, and when it was bought and
    expires, in both calendars (Solar Hijri and Gregorian)."""
    from mailbot.actions import logged_hours
    from mailbot.prepaid import balance

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
    if the_customer.package is None:
        raise NotFound(f"customer {customer!r} ({the_desk.name}) has no package")
    today = c.now(ctx).astimezone(the_desk.zone).date()
    used = logged_hours(c.database(ctx), the_desk.name, customer)
    result = balance(the_customer.package, used, today)
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
