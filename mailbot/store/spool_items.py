"""store.spool_items: the spool's rows — recorded, claimed by a worker, finished once.

Every state change is a guarded UPDATE (`state == received`), so whoever loses a race finds
zero rows changed and knows it: that guard, not a lock, keeps each item to one outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, or_, update
from sqlmodel import Session, col, select

from mailbot.store.database import Database, core_execute, table_of, upsert_for
from mailbot.store.tables import EventRow, SpoolItem, SpoolState

_SPOOL_ITEM = table_of(SpoolItem)
_FINISH = (
    update(_SPOOL_ITEM)
    .where(
        _SPOOL_ITEM.c.id == bindparam("spool_id"),
        _SPOOL_ITEM.c.state == SpoolState.received,
    )
    .values(claimed_by=None, claimed_until=None)
)
"""Every mail's last write: built once (`core_execute`); the outcome's columns are bound."""


def record_received(
    db: Database, rows: list[dict[str, object]], *, wait: float | None = None
) -> None:
    """Insert new `received` rows in one commit; a row already there (same bytes) is kept.
    `wait`: TimeoutError if the writer lock is not ours within that many seconds."""
    insert = upsert_for(db.is_postgres)
    statement = insert(SpoolItem).on_conflict_do_nothing(index_elements=["id"])
    with db.writing(wait), db.engine.begin() as connection:
        connection.execute(statement, rows)


def _claimable(now: datetime) -> list[object]:
    return [
        col(SpoolItem.state) == SpoolState.received,
        or_(col(SpoolItem.claimed_until).is_(None), col(SpoolItem.claimed_until) < now),
    ]


def _rowcount(result: object) -> int:
    """UPDATE results carry rowcount (CursorResult); the generic Result type hides it."""
    return int(getattr(result, "rowcount", 0))


class SpoolItems:
    """The spool's rows, inside the caller's session (and so its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, spool_id: str) -> SpoolItem | None:
        return self.session.get(SpoolItem, spool_id)

    def by_ids(self, spool_ids: Sequence[str]) -> list[SpoolItem]:
        """The rows of these ids that exist (in batches the database's parameter limit allows)."""
        found: list[SpoolItem] = []
        unique = list(dict.fromkeys(spool_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            found.extend(self.session.exec(select(SpoolItem).where(col(SpoolItem.id).in_(chunk))))
        return found

    def known_ids(self) -> set[str]:
        return set(self.session.exec(select(SpoolItem.id)).all())

    def by_prefix(self, prefix: str, limit: int = 2) -> list[SpoolItem]:
        """Items whose id starts with `prefix` (at most `limit`, to tell ambiguity)."""
        query = select(SpoolItem).where(col(SpoolItem.id).startswith(prefix.lower()))
        return list(self.session.exec(query.limit(limit)).all())

    def quarantined(self, *, desk: str | None, reason: str | None, limit: int) -> list[SpoolItem]:
        """Quarantined items, newest first."""
        query = (
            select(SpoolItem)
            .where(col(SpoolItem.state) == SpoolState.quarantined)
            .order_by(col(SpoolItem.accepted_at).desc())
            .limit(limit)
        )
        if desk:
            query = query.where(col(SpoolItem.desk) == desk)
        if reason:
            query = query.where(col(SpoolItem.reason) == reason)
        return list(self.session.exec(query).all())

    def anything_to_claim(self, now: datetime) -> bool:
        query = select(SpoolItem.id).where(*_claimable(now)).limit(1)  # type: ignore[arg-type]
        return self.session.exec(query).first() is not None

    def claim(
        self,
        worker: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        ids: Sequence[str] | None,
        skip_locked: bool,
    ) -> list[SpoolItem]:
        """Lease the oldest claimable items (or exactly `ids`) to `worker` until `until`.

        Items that failed before come after those never tried: a mail that times out or
        crashes its worker must not be first in every batch, ahead of the mail behind it."""
        query = select(SpoolItem).where(*_claimable(now))  # type: ignore[arg-type]
        if ids is not None:
            query = query.where(col(SpoolItem.id).in_(list(ids)))
        query = query.order_by(col(SpoolItem.attempts), col(SpoolItem.accepted_at)).limit(limit)
        if skip_locked:
            query = query.with_for_update(skip_locked=True)
        rows = list(self.session.exec(query).all())
        for row in rows:
            row.claimed_by = worker
            row.claimed_until = until
            self.session.add(row)
        return rows

    def charge_attempt(self, spool_id: str, detail: str, *, free_claim: bool) -> None:
        """One failed attempt on a still-received item (and, if asked, its lease given back)."""
        values: dict[str, object] = {"attempts": SpoolItem.attempts + 1, "detail": detail}
        if free_claim:
            values.update(claimed_by=None, claimed_until=None)
        self.session.execute(
            update(SpoolItem)
            .where(col(SpoolItem.id) == spool_id, col(SpoolItem.state) == SpoolState.received)
            .values(**values)
        )

    def free_claims_of(self, owner: str) -> int:
        result = self.session.execute(
            update(SpoolItem)
            .where(
                col(SpoolItem.claimed_by) == owner,
                col(SpoolItem.state) == SpoolState.received,
            )
            .values(claimed_by=None, claimed_until=None)
        )
        return _rowcount(result)

    def finish(
        self,
        spool_id: str,
        *,
        state: SpoolState,
        outcome: str,
        reason: str | None,
        detail: str | None,
        desk: str | None,
        ticket_id: int | None,
        at: datetime,
    ) -> bool:
        """Move an item out of `received`; False if it had already left. The item's object,
        if this session holds one, is expired: its next read sees the outcome."""
        values = {
            "spool_id": spool_id,
            "state": state,
            "outcome": outcome,
            "reason": reason,
            "detail": detail,
            "desk": desk,
            "ticket_id": ticket_id,
            "finished_at": at,
        }
        result = core_execute(self.session, _FINISH, values)
        held = self.session.identity_map.get(self.session.identity_key(SpoolItem, spool_id))
        if held is not None:
            self.session.expire(held)
        return _rowcount(result) == 1

    def explain(self, spool_id: str, *, reason: str, detail: str) -> None:
        """Note why a finished item's outcome is unusual (a ticket of old mail), once the
        transaction that finished it knows; `ingest` of the same bytes prints it again."""
        self.session.execute(
            update(SpoolItem)
            .where(col(SpoolItem.id) == spool_id)
            .values(reason=reason, detail=detail)
        )

    def release(self, item: SpoolItem, *, by: str, skip_rule: str | None, at: datetime) -> None:
        """Back to `received` for another run of the rules, with who did it in the history."""
        skip = set(item.skip_rules or ())
        if skip_rule:
            skip.add(skip_rule)
        self.session.add(
            EventRow(
                spool_id=item.id,
                kind="released",
                at=at,
                detail={"by": by, "reason": item.reason, "skip_rule": skip_rule},
            )
        )
        item.state = SpoolState.received
        item.outcome = item.reason = item.detail = None
        item.attempts = 0
        item.claimed_by = item.claimed_until = item.finished_at = None
        item.skip_rules = sorted(skip)
        self.session.add(item)

    def still_received(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` whose outcome is not committed yet (or that are not recorded)."""
        wanted = set(ids)
        finished = self.session.exec(
            select(SpoolItem.id).where(
                col(SpoolItem.id).in_(list(wanted)), col(SpoolItem.state) != SpoolState.received
            )
        ).all()
        return wanted - set(finished)

    def count_received(self) -> int:
        return self.session.exec(
            select(func.count())
            .select_from(SpoolItem)
            .where(col(SpoolItem.state) == SpoolState.received)
        ).one()
