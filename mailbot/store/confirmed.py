"""store.confirmed: addresses agents confirmed as a customer's (after identification by
company name and contract number), per desk."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from mailbot.store.database import core_execute, table_of
from mailbot.store.tables import ConfirmedAddress

_CONFIRMED = table_of(ConfirmedAddress).c
_CUSTOMER_OF = core_select(_CONFIRMED.customer).where(
    _CONFIRMED.desk == bindparam("desk"), _CONFIRMED.address == bindparam("address")
)
"""Read for every mail from an unknown sender: built once (`core_execute`)."""


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
        parameters = {"desk": desk, "address": address.lower()}
        customer: str | None = core_execute(self.session, _CUSTOMER_OF, parameters).scalar()
        return customer

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
