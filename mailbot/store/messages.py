"""store.messages: the mails of a ticket, both ways — how threads and duplicates are found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from mailbot.store.database import core_execute, table_of
from mailbot.store.tables import Message, Ticket

_MESSAGE, _TICKET = table_of(Message).c, table_of(Ticket).c
_WITH_TICKET = table_of(Message).join(table_of(Ticket), _MESSAGE.ticket_id == _TICKET.id)

# The reads every mail makes, built once (`core_execute`).
_TICKETS_ANSWERED = (
    core_select(_MESSAGE.ticket_id)
    .where(
        _MESSAGE.desk == bindparam("desk"),
        _MESSAGE.message_id.in_(bindparam("ids", expanding=True)),
    )
    .distinct()
    .order_by(_MESSAGE.ticket_id)
    .limit(bindparam("limit"))
)
_NUMBER_WITH_INBOUND = (
    core_select(_TICKET.number)
    .select_from(_WITH_TICKET)
    .where(
        _MESSAGE.desk == bindparam("desk"),
        _MESSAGE.message_id == bindparam("message_id"),
        _MESSAGE.direction == "in",
    )
)
_RECENT_FROM = (
    core_select(_TICKET.number, _MESSAGE.fingerprint, _MESSAGE.received_at)
    .select_from(_WITH_TICKET)
    .where(
        _MESSAGE.desk == bindparam("desk"),
        _MESSAGE.from_addr == bindparam("sender"),
        _MESSAGE.direction == "in",
        _MESSAGE.received_at >= bindparam("since"),
    )
    .order_by(_MESSAGE.received_at.desc())
    .limit(bindparam("limit"))
)
_INBOUND_TEXTS = (
    core_select(_MESSAGE.body_text, _MESSAGE.attachments)
    .where(
        _MESSAGE.ticket_id == bindparam("ticket_id"),
        _MESSAGE.direction == "in",
        _MESSAGE.author.is_(None),
    )
    .order_by(_MESSAGE.id)
)


class Messages:
    """Ticket messages, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, message: Message) -> None:
        self.session.add(message)

    def ticket_id_answered(self, desk: str, message_ids: Sequence[str]) -> int | None:
        """The ticket holding any of `message_ids` (the ids a mail answers), if one does."""
        return self.session.exec(
            select(Message.ticket_id).where(
                col(Message.desk) == desk, col(Message.message_id).in_(list(message_ids))
            )
        ).first()

    def tickets_answered(self, desk: str, message_ids: Sequence[str], limit: int = 5) -> list[int]:
        """The tickets holding any of `message_ids`, at most `limit` of them, lowest first: a
        mail may name messages of several tickets, and the caller picks one it may enter."""
        parameters = {"desk": desk, "ids": list(message_ids), "limit": limit}
        return list(core_execute(self.session, _TICKETS_ANSWERED, parameters).scalars())

    def ticket_number_with_inbound(self, desk: str, message_id: str) -> str | None:
        """The ticket that already holds a customer mail with this Message-ID."""
        parameters = {"desk": desk, "message_id": message_id}
        number: str | None = core_execute(self.session, _NUMBER_WITH_INBOUND, parameters).scalar()
        return number

    def recent_from(
        self, desk: str, sender: str, since: datetime, limit: int = 50
    ) -> list[tuple[str, str | None, datetime]]:
        """(ticket number, fingerprint, received) of one sender's mails, newest first."""
        parameters = {"desk": desk, "sender": sender, "since": since, "limit": limit}
        rows: Sequence[Any] = core_execute(self.session, _RECENT_FROM, parameters).all()
        return [(row[0], row[1], row[2]) for row in rows]

    def inbound_texts(self, ticket_id: int) -> list[tuple[str, Sequence[dict[str, Any]]]]:
        """(text, attachments) of the customer's mails on a ticket, oldest first."""
        parameters = {"ticket_id": ticket_id}
        rows: Sequence[Any] = core_execute(self.session, _INBOUND_TEXTS, parameters).all()
        return [(row[0], row[1]) for row in rows]

    def last_inbound(self, ticket_id: int) -> Message | None:
        """The customer's last mail (an agent's mail in, which carries an author, is not one:
        answers thread under what the customer sent)."""
        return self.session.exec(
            select(Message)
            .where(
                col(Message.ticket_id) == ticket_id,
                col(Message.direction) == "in",
                col(Message.author).is_(None),
            )
            .order_by(col(Message.id).desc())
        ).first()

    def of_ticket(self, ticket_id: int) -> list[Message]:
        query = select(Message).where(col(Message.ticket_id) == ticket_id)
        return list(self.session.exec(query.order_by(col(Message.id))).all())
