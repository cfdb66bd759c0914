"""store.confirmed: addresses agents confirmed as a customer's (after identification by
company name and contract number), per desk."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from mailbot.store.tables import ConfirmedAddress


class ConfirmedAddresses:
    """Confirmed addresses, inside the caller's session (and so its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, desk: str, address: str) -> ConfirmedAddress | None:
        query = select(ConfirmedAddress).where(
            col(ConfirmedAddress.desk) == desk, col(ConfirmedAddress.address) == address.lower()
        )
        return self.session.exec(query).first()

    def customer_of(self, desk: str, address: str) -> str | None:
        """The customer (name) an address of this desk was confirmed for, if it was."""
        query = select(ConfirmedAddress.customer).where(
            col(ConfirmedAddress.desk) == desk, col(ConfirmedAddress.address) == address.lower()
        )
        return self.session.exec(query).first()

    def add(
        self,
        *,
        desk: str,
        address: str,
        customer: str,
        ticket_id: int | None,
        by: str,
        at: datetime,
    ) -> ConfirmedAddress:
        row = ConfirmedAddress(
            desk=desk,
            address=address.lower(),
            customer=customer,
            ticket_id=ticket_id,
            confirmed_by=by,
            confirmed_at=at,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def remove(self, row: ConfirmedAddress) -> None:
        self.session.delete(row)
        self.session.flush()

    def of_desk(self, desk: str) -> list[ConfirmedAddress]:
        """Every confirmed address of a desk, by customer and address."""
        query = (
            select(ConfirmedAddress)
            .where(col(ConfirmedAddress.desk) == desk)
            .order_by(col(ConfirmedAddress.customer), col(ConfirmedAddress.address))
        )
        return list(self.session.exec(query).all())
