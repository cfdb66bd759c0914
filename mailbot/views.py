"""views: what operators look at — the ticket queue, one ticket with its history, the
quarantine — as plain dicts the CLI prints as tables or JSON. Read-only: a `Database` and the
configuration are enough (no rules loaded, no migrations run), so looking is fast and safe
beside a running `serve`. The store's query classes are imported where they are used: the
queue comes from `store.reader` without SQLAlchemy, whose import alone costs more than the
whole answer of `mailbot tickets list`."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from mailbot.due_times import deadlines_json
from mailbot.errors import Ambiguous, NotFound
from mailbot.references import quarantine_reference, spool_prefix
from mailbot.store.reader import QueueReader, TicketRow

if TYPE_CHECKING:
    from mailbot.config import Config
    from mailbot.spool import Spool
    from mailbot.store import Database, SpoolItem, Ticket

MIN_PREFIX = 6
"""The fewest characters of a spool id a person must type to name a quarantine entry."""
SHOWN_CANDIDATES = 10
"""Ids an ambiguous prefix lists, at most."""


def iso(value: Any, zone: tzinfo | None = None) -> Any:
    """A time as ISO 8601, in `zone` (the desk's) with its offset; anything else as it is."""
    if isinstance(value, datetime) and zone is not None:
        return value.astimezone(zone).isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else value


def zone_of(config: Config | None, desk: str | None) -> tzinfo:
    """The desk's time zone; UTC for mail no desk took (and a desk no longer configured)."""
    found = config.desks.get(desk) if config is not None and desk else None
    return found.zone if found is not None else UTC


def ticket_json(ticket: Ticket | TicketRow, config: Config) -> dict[str, Any]:
    """Every column, times in the desk's time zone with its offset, then the due times."""
    columns = ticket.as_dict() if isinstance(ticket, TicketRow) else ticket.model_dump()
    zone = zone_of(config, ticket.desk)
    data = {k: iso(v, zone) for k, v in columns.items()}
    desk = config.desks.get(ticket.desk)
    if desk is not None:
        data.update(deadlines_json(ticket, desk))
    return data


def ticket_queue(
    reader: QueueReader, *, desk: str | None, state: str | None, limit: int
) -> list[TicketRow]:
    """The queue in working order (`store.reader.QUEUE_SQL`)."""
    return reader.queue(desk=desk, state=state, limit=limit)


def ticket_detail(db: Database, config: Config, number: str) -> dict[str, Any]:
    """One ticket with its messages, its replies and their delivery, and its history."""
    from mailbot.store import Events, Messages, Outbox, Tickets

    with db.reading() as session:
        ticket = Tickets(session).by_number(number.strip().upper())
        if ticket is None or ticket.id is None:
            raise NotFound(f"ticket {number}: not found")
        messages = Messages(session).of_ticket(ticket.id)
        events = Events(session).of_ticket(ticket.id)
        outbox = Outbox(session).of_ticket(ticket.id)
    data = ticket_json(ticket, config)
    zone = zone_of(config, ticket.desk)
    from mailbot.conversation import conversation  # only `show` needs it

    data["messages"] = conversation(ticket, messages, outbox, config.desks.get(ticket.desk))
    data["replies"] = [
        {
            "kind": o.kind,
            "message_id": o.message_id,
            "to": o.rcpt_to,
            "state": o.state,
            "attempts": o.attempts,
            "last_error": o.last_error,
            "sent_at": iso(o.sent_at, zone),
        }
        for o in outbox
    ]
    data["events"] = [{"kind": e.kind, "at": iso(e.at, zone), **e.detail} for e in events]
    return data


def find_quarantined(db: Database, prefix: str) -> SpoolItem:
    """The spool item named by `prefix`: the reference its refusal gave the sender
    (`Q-7F3A9C21`, any case, with or without `Q-`) or the first characters of its id.
    NotFound (66) when none fits, Ambiguous (2) listing the candidates when several do, so
    the next try can be exact; where a reference fits several items and exactly one of
    them is quarantined, that one (a reference names a refused mail)."""
    from mailbot.store import SpoolItems, SpoolState

    wanted = spool_prefix(prefix)
    if len(wanted) < MIN_PREFIX:
        raise Ambiguous(
            f"quarantine entry {prefix!r}: give at least {MIN_PREFIX} characters of its id"
            f" or its reference (Q-...)"
        )
    if not all(ch in "0123456789abcdef" for ch in wanted):
        raise NotFound(
            f"no quarantine entry has the id or reference {prefix!r}"
            f" (ids are hexadecimal, references Q- and 8 of them)"
        )
    with db.reading() as session:
        rows = SpoolItems(session).by_prefix(wanted, limit=SHOWN_CANDIDATES + 1)
    if not rows:
        named = "has the reference" if "q-" in prefix.lower() else "starts with"
        raise NotFound(f"no quarantine entry {named} {prefix!r}")
    if len(rows) > 1:
        kept = [r for r in rows if r.state == SpoolState.quarantined]
        if len(kept) == 1 and len(rows) <= SHOWN_CANDIDATES:
            return kept[0]
        listed = ", ".join(r.id[:16] for r in rows[:SHOWN_CANDIDATES])
        more = " and more" if len(rows) > SHOWN_CANDIDATES else ""
        raise Ambiguous(
            f"quarantine entry {prefix!r} is ambiguous: it starts {listed}{more};"
            f" give more characters"
        )
    return rows[0]


def sender_of(spool: Spool, item: SpoolItem) -> str:
    """The From address of a spooled mail, for display (the envelope sender if unreadable)."""
    try:
        headers = BytesHeaderParser().parsebytes(spool.read(item.id)[:65536])
        return parseaddr(str(headers.get("From", "")))[1] or item.mail_from or ""
    except Exception:  # a display column must not stop the listing
        return item.mail_from or ""


def quarantine_entries(
    spool: Spool,
    *,
    desk: str | None,
    reason: str | None,
    limit: int,
    config: Config | None = None,
) -> list[dict[str, Any]]:
    """Quarantined mail, newest first; times in its desk's zone (`config`), else UTC."""
    from mailbot.store import SpoolItems

    with spool.db.reading() as session:
        rows = SpoolItems(session).quarantined(desk=desk, reason=reason, limit=limit)
    return [
        {
            "id": r.id,
            "reference": quarantine_reference(r.id),
            "accepted_at": iso(r.accepted_at, zone_of(config, r.desk)),
            "desk": r.desk,
            "reason": r.reason,
            "detail": r.detail,
            "from": sender_of(spool, r),
            "size": r.size,
        }
        for r in rows
    ]


def quarantine_entry(spool: Spool, prefix: str, config: Config | None = None) -> dict[str, Any]:
    """One spooled mail by the first characters of its id, with its history; times in its
    desk's zone (`config`), else UTC."""
    from mailbot.store import Events

    item = find_quarantined(spool.db, prefix)
    with spool.db.reading() as session:
        events = Events(session).of_spool_item(item.id)
    zone = zone_of(config, item.desk)
    return {
        "id": item.id,
        "reference": quarantine_reference(item.id),
        "state": item.state,
        "accepted_at": iso(item.accepted_at, zone),
        "source": item.source,
        "desk": item.desk,
        "reason": item.reason,
        "detail": item.detail,
        "from": sender_of(spool, item),
        "size": item.size,
        "raw_path": str(spool.path_of(item.id)),
        "events": [{"kind": e.kind, "at": iso(e.at, zone), **e.detail} for e in events],
    }
