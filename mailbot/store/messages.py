"""store.messages: the mails of a ticket, both ways — how threads and duplicates are found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from mailbot.store.tables import Message, Ticket


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
        rows = self.session.exec(
            select(Message.ticket_id)
            .where(col(Message.desk) == desk, col(Message.message_id).in_(list(message_ids)))
            .distinct()
            .order_by(col(Message.ticket_id))
            .limit(limit)
        ).all()
        return list(rows)

    def ticket_number_with_inbound(self, desk: str, message_id: str) -> str | None:
        """The ticket that already holds a customer mail with this Message-ID."""
        return self.session.exec(
            select(Ticket.number)
            .join(Message, col(Message.ticket_id) == col(Ticket.id))
            .where(
                col(Message.desk) == desk,
                col(Message.message_id) == message_id,
                col(Message.direction) == "in",
            )
        ).first()

    def recent_from(
        self, desk: str, sender: str, since: datetime, limit: int = 50
    ) -> list[tuple[str, str | None, datetime]]:
        """(ticket number, fingerprint, received) of one sender's mails, newest first."""
        rows = self.session.exec(
            select(Ticket.number, Message.fingerprint, Message.received_at)
            .join(Ticket, col(Message.ticket_id) == col(Ticket.id))
            .where(
                col(Message.desk) == desk,
                col(Message.from_addr) == sender,
                col(Message.direction) == "in",
                col(Message.received_at) >= since,
            )
            .order_by(col(Message.received_at).desc())
            .limit(limit)
        ).all()
        return [(number, fp, at) for number, fp, at in rows]

    def inbound_texts(self, ticket_id: int) -> list[tuple[str, Sequence[dict[str, Any]]]]:
        """(text, attachments) of the customer's mails on a ticket, oldest first."""
        rows = self.session.exec(
            select(Message.body_text, Message.attachments)
            .where(
                col(Message.ticket_id) == ticket_id,
                col(Message.direction) == "in",
                col(Message.author).is_(None),
            )
            .order_by(col(Message.id))
        ).all()
        return [(body, attachments) for body, attachments in rows]

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
