"""store.outbox_admin: what an operator does to outbox rows the sender gave up on — put
them back in the queue (`mailbot outbox retry`), inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from mailbot.store.tables import OutboxRow, OutboxState


class OutboxAdmin:
    """Outbox rows by id, and their way back from `failed`, inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def states(self, ids: Sequence[int]) -> dict[int, str]:
        """id -> state of those of `ids` that exist, read under the writer's lock (the
        caller's transaction) so nothing changes between the look and the retry."""
        query = select(OutboxRow.id, OutboxRow.state).where(col(OutboxRow.id).in_(list(ids)))
        return {int(i): s for i, s in self.session.exec(query).all() if i is not None}

    def failed_ids(self) -> list[int]:
        query = select(OutboxRow.id).where(col(OutboxRow.state) == OutboxState.failed)
        return sorted(int(i) for i in self.session.exec(query).all() if i is not None)

    def retry(self, ids: Sequence[int], now: datetime) -> list[OutboxRow]:
        """Failed rows of `ids` back to pending, due at `now`, with a fresh count of attempts
        (the sender's give-up rule starts again); their last error stays until the next try.
        Returns the rows as they were before."""
        before = list(
            self.session.exec(
                select(OutboxRow).where(
                    col(OutboxRow.id).in_(list(ids)), col(OutboxRow.state) == OutboxState.failed
                )
            ).all()
        )
        self.session.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id).in_(list(ids)), col(OutboxRow.state) == OutboxState.failed)
            .values(state=OutboxState.pending, attempts=0, next_attempt_at=now)
            # the rows loaded above keep what they were: the caller records that
            .execution_options(synchronize_session=False)
        )
        return before
