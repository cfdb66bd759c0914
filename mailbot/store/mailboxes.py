"""store.mailboxes: the IMAP poller's place in each mailbox (UIDVALIDITY and the last UID
settled), so a restart neither fetches the whole folder again nor skips a message."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from mailbot.store.database import upsert_for
from mailbot.store.tables import MailboxState


class MailboxStates:
    """Mailbox positions, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> tuple[int, int] | None:
        """(uidvalidity, last_uid) of the mailbox, or None before its first pass."""
        row = self.session.get(MailboxState, name)
        return None if row is None else (row.uidvalidity, row.last_uid)

    def save(self, name: str, *, uidvalidity: int, last_uid: int, at: datetime) -> None:
        row = self.session.get(MailboxState, name)
        if row is None:
            row = MailboxState(name=name, uidvalidity=uidvalidity, last_uid=last_uid)
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, at
        self.session.add(row)

    def polled(self, name: str, *, uidvalidity: int, at: datetime) -> None:
        """Note a finished pass (`mailbot status` shows it). A mailbox met for the first time
        gets its row at UID 0, which reads the same as no row: nothing settled there yet."""
        insert = upsert_for(self.session.get_bind().dialect.name == "postgresql")
        self.session.execute(
            insert(MailboxState)
            .values(name=name, uidvalidity=uidvalidity, last_uid=0, updated_at=at, polled_at=at)
            .on_conflict_do_update(index_elements=["name"], set_={"polled_at": at})
        )
