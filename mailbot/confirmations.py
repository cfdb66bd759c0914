"""confirmations: an agent confirms the address of a stranger identified by company name and
contract number, or takes the confirmation back (CleverBox, POLICIES.md §5: "the new address
remembered for them only after an agent confirms it").

Identification by what a mail says (`rules/_identification.py`) opens the ticket for the
customer but remembers nothing: anybody who read an invoice could write the same. An agent
who made sure the sender works for the customer confirms the address from that very
ticket; from then on the pipeline counts it as the customer's (identified_by "confirmed"),
so its next mail opens a ticket without the contract number. Only the address the ticket was
identified from, and only for the customer it was identified as: a confirmation never
names an address or a customer the mail did not.

The confirmed addresses live in the database (`store.confirmed`), not in the desk file: an
agent confirms while `serve` runs, and the desk file stays the admin's. Each action is one
transaction: the row and the history event on the ticket that says who and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mailbot.actions import load_ticket
from mailbot.config import Config, DeskSettings
from mailbot.errors import NotFound, Refused
from mailbot.store import ConfirmedAddresses, Database, Events, Session, Ticket, Tickets

IDENTIFIED = "identified_by_contract"
"""The history event of a ticket opened by contract identification (tickets.py)."""


class ConfirmationRefused(Refused):
    """The ticket does not allow confirming this address (exit 3): nothing was written."""


def confirm(
    db: Database, config: Config, address: str, number: str, *, by: str, now: datetime
) -> dict[str, Any]:
    """Remember `address` as the customer's that ticket `number` was identified as."""
    with db.transaction() as session:
        ticket, desk = load_ticket(session, config, number)
        return confirm_in(session, desk, ticket, address, by=by, now=now)


def confirm_in(
    session: Session,
    desk: DeskSettings,
    ticket: Ticket,
    address: str | None,
    *,
    by: str,
    now: datetime,
) -> dict[str, Any]:
    """`confirm` inside the caller's transaction (an agent's `#confirm-address` by mail);
    `address` None: the one the ticket was identified from."""
    assert ticket.id is not None
    events = Events(session)
    identified = [e for e in events.of_ticket(ticket.id) if e.kind == IDENTIFIED]
    if not identified:
        raise ConfirmationRefused(
            f"ticket {ticket.number} was not opened by identification by company name and"
            f" contract number (from {ticket.requester}): there is no address to confirm"
        )
    detail = identified[0].detail
    from_address = str(detail.get("address", "")).lower()
    address = from_address if address is None else address.strip().lower()
    if from_address != address:
        raise ConfirmationRefused(
            f"ticket {ticket.number} was identified from {from_address}, not from"
            f" {address}: confirm the address the ticket came from"
        )
    customer = next((c for c in desk.customers if c.name == detail.get("customer")), None)
    if customer is None:
        raise ConfirmationRefused(
            f"ticket {ticket.number}: customer {detail.get('customer')!r} is no longer in"
            f" the desk file of {desk.name}"
        )
    known, how = desk.customer_for(address)
    if known is not None:
        raise ConfirmationRefused(
            f"{address} is already {known.name}'s by the desk file ({how}): nothing to confirm"
        )
    addresses = ConfirmedAddresses(session)
    earlier = addresses.get(desk.name, address)
    if earlier is not None:
        raise ConfirmationRefused(
            f"{address} is already confirmed for {earlier.customer} on {desk.name} (by"
            f" {earlier.confirmed_by}, {earlier.confirmed_at.isoformat()})"
            + (
                ""
                if earlier.customer == customer.name
                else f"; take it back first: mailbot customers unconfirm {address}"
                f" --desk {desk.name}"
            )
        )
    addresses.add(
        desk=desk.name,
        address=address,
        customer=customer.name,
        ticket_id=ticket.id,
        by=by,
        at=now,
    )
    events.record(
        "address_confirmed",
        now,
        ticket_id=ticket.id,
        address=address,
        customer=customer.name,
        contract=detail.get("contract"),
        by=by,
    )
    return {
        "confirmed": address,
        "desk": desk.name,
        "customer": customer.name,
        "ticket": ticket.number,
        "by": by,
        "at": now.isoformat(),
    }


def unconfirm(
    db: Database, desk: DeskSettings, address: str, *, by: str, now: datetime
) -> dict[str, Any]:
    """Forget a confirmed address: its next mail is a stranger's again. The ticket it was
    confirmed from records who took it back."""
    address = address.strip().lower()
    with db.transaction() as session:
        addresses = ConfirmedAddresses(session)
        row = addresses.get(desk.name, address)
        if row is None:
            raise NotFound(f"{address}: no confirmed address of desk {desk.name}")
        ticket = Tickets(session).get(row.ticket_id) if row.ticket_id is not None else None
        addresses.remove(row)
        Events(session).record(
            "address_unconfirmed",
            now,
            ticket_id=row.ticket_id,
            address=address,
            customer=row.customer,
            by=by,
        )
        return {
            "unconfirmed": address,
            "desk": desk.name,
            "customer": row.customer,
            "ticket": ticket.number if ticket is not None else None,
            "by": by,
            "at": now.isoformat(),
        }


def confirmed_of(db: Database, desk: DeskSettings) -> list[dict[str, Any]]:
    """The desk's confirmed addresses: address, customer, the ticket, who and when."""
    with db.reading() as session:
        rows = ConfirmedAddresses(session).of_desk(desk.name)
        tickets = Tickets(session)
        numbers = {
            r.ticket_id: getattr(tickets.get(r.ticket_id), "number", None)
            for r in rows
            if r.ticket_id is not None
        }
    return [
        {
            "address": r.address,
            "customer": r.customer,
            "ticket": numbers.get(r.ticket_id) if r.ticket_id is not None else None,
            "by": r.confirmed_by,
            "at": r.confirmed_at.isoformat(),
        }
        for r in rows
    ]
