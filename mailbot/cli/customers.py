"""`customers list|confirm|unconfirm`: a desk's customers and their addresses, and the agent's
confirmation of an address identified by company name and contract number."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from mailbot.cli import _context as c

if TYPE_CHECKING:
    from mailbot.store import Database


def _store(ctx: click.Context) -> Database:
    """The store brought to the newest schema: a database from before the confirmed
    addresses (0010) gets their table. No rules, renderer or spool: nothing here mails."""
    db = c.database(ctx)
    db.upgrade()
    return db


@click.group(cls=c.Group)
def customers() -> None:
    """List a desk's customers and their addresses; confirm (or take back) the address of a
    sender identified by company name and contract number."""


@customers.command("confirm")
@click.argument("address")
@click.option(
    "--ticket",
    "number",
    required=True,
    help="The ticket opened by contract identification from ADDRESS (like CBX-000123).",
)
@click.option("--by", help="The agent who confirms it (default: $USER), kept in the history.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@c.now_option
@click.pass_context
def customers_confirm(
    ctx: click.Context, address: str, number: str, by: str | None, as_json: bool
) -> None:
    """Confirm ADDRESS as the customer's that --ticket was identified as (by company name
    and contract number): its later mail counts as that customer's without the number.

    Make sure first that the sender works for the customer. Only the ticket's own sender can
    be confirmed, and only from a ticket opened by contract identification; otherwise it is
    refused (exit 3) with the reason. An unknown ticket is exit 66.
    """
    from mailbot.confirmations import confirm

    config = c.config(ctx)
    result = confirm(_store(ctx), config, address, number, by=c.who(by), now=c.now(ctx))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(
        f"{result['confirmed']} confirmed for {result['customer']} ({result['desk']}),"
        f" from {result['ticket']}, by {result['by']}"
    )


@customers.command("unconfirm")
@click.argument("address")
@click.option("--desk", "desk_name", required=True, help="The desk the address was confirmed on.")
@click.option("--by", help="Who takes it back (default: $USER), kept in the history.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@c.now_option
@click.pass_context
def customers_unconfirm(
    ctx: click.Context, address: str, desk_name: str, by: str | None, as_json: bool
) -> None:
    """Take back a confirmed ADDRESS: its next mail is a stranger's again (refused unless it
    gives the company name and contract number). An address never confirmed is exit 66."""
    from mailbot.confirmations import unconfirm

    config = c.config(ctx)
    desk = c.known_desk(config, desk_name)
    result = unconfirm(_store(ctx), desk, address, by=c.who(by), now=c.now(ctx))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"{result['unconfirmed']} is no longer {result['customer']}'s ({result['desk']})")


@customers.command("list")
@click.option("--desk", "desk_name", required=True, help="The desk whose customers to list.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of text.")
@click.pass_context
def customers_list(ctx: click.Context, desk_name: str, as_json: bool) -> None:
    """List the desk's customers: contacts and domains from the desk file, contract numbers,
    and the addresses agents confirmed (with the ticket, who and when)."""
    from mailbot.confirmations import confirmed_of

    config = c.config(ctx)
    desk = c.known_desk(config, desk_name)
    confirmed = confirmed_of(_store(ctx), desk)
    rows: list[dict[str, Any]] = [
        {
            "name": customer.name,
            "status": customer.status,
            "contacts": list(customer.contacts),
            "designated_contact": customer.designated_contact,
            "domains": list(customer.domains),
            "contracts": list(customer.contracts),
            "confirmed": [
                {k: v for k, v in row.items() if k != "customer"}
                for row in confirmed
                if row["customer"] == customer.name
            ],
        }
        for customer in desk.customers
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"desk {desk.name} lists no customers")
        return
    for row in rows:
        click.echo(f"{c.safe(row['name'])}  [{row['status']}]")
        for label, key in (("contacts", "contacts"), ("domains", "domains")):
            if row[key]:
                click.echo(f"  {label}: {', '.join(row[key])}")
        if row["designated_contact"]:
            click.echo(f"  designated contact: {row['designated_contact']}")
        if row["contracts"]:
            click.echo(f"  contracts: {', '.join(row['contracts'])}")
        for one in row["confirmed"]:
            click.echo(
                f"  confirmed: {c.safe(one['address'])} (from {one['ticket'] or '-'},"
                f" by {c.safe(one['by'])}, {c.when(one['at'], desk.zone)})"
            )
    orphans = [r for r in confirmed if r["customer"] not in {x["name"] for x in rows}]
    for one in orphans:
        click.echo(
            f"confirmed for {c.safe(one['customer'])}, no longer in the desk file:"
            f" {c.safe(one['address'])} (ignored)"
        )
