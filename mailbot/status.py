"""status: how the desk engine is doing, in figures — what `mailbot status` prints, what
/metrics exports and what /health and `status --check` judge. Built from store reads only
(`store.status`), so looking never changes what is looked at, and the same figures come out
of the command and of a scrape of a running `serve`.

The health rule, one for `status --check` and /health: unhealthy when mail waits and nothing
moves it, which a restart or a person must fix:
  * the spool's oldest item still waiting for its outcome was accepted more than
    `[metrics] stuck_after` ago (default 5 minutes): no worker is taking mail;
  * an outbox row has been due for more than `stuck_after`: no sender is sending.
Replies that failed for good (a 5xx from the relay, or too many tries) are shown with the
server's answer but do not make the engine unhealthy: a restart would not deliver them; a
person decides (`mailbot outbox retry`). Replies that are retrying (the relay answers 4xx
or is down) are shown and exported (`mailbot_outbox_retrying`) for alerting, and are not a
stuck engine either while their next attempt lies ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from mailbot.store.reader import TICKET_STATES
from mailbot.store.status import OUTBOX_STATES, OutboxLine, StatusQueries, StatusSource

if TYPE_CHECKING:
    from mailbot.config import Config

DUE_WITHIN = timedelta(hours=4)
"""What "due soon" means when nobody says (`--hours`; /metrics always uses this)."""
WINDOW = timedelta(hours=24)
"""The recent window of the quarantine and dropped counts when nobody says (`--since`)."""
STUCK_AFTER = timedelta(minutes=5)
"""The default of `[metrics] stuck_after`."""
FAILED_SHOWN = 20
"""Failed replies listed one by one at most (the count is always whole)."""


def printable(text: str) -> str:
    """Text from outside (a relay's answer, an address) as a terminal may show it: control
    characters escaped, so an ESC sequence cannot clear the screen or retitle the window."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def local(moment: datetime | None, zone: tzinfo | None = None) -> datetime | None:
    """A moment in `zone`, else in this machine's local time, offset included."""
    if moment is None:
        return None
    return moment.astimezone(zone) if zone is not None else moment.astimezone()


def iso(moment: datetime | None, zone: tzinfo | None = None) -> str | None:
    shown = local(moment, zone)
    return shown.isoformat(timespec="seconds") if shown is not None else None


@dataclass(frozen=True)
class ClockFigures:
    breached: int = 0
    due_soon: int = 0
    next_due: datetime | None = None


@dataclass(frozen=True)
class DeskFigures:
    name: str
    zone: tzinfo | None
    """The desk's time zone; None for a desk no longer configured (local time then)."""
    tickets: dict[str, int]
    first_response: ClockFigures
    resolution: ClockFigures


@dataclass(frozen=True)
class ReasonCounts:
    """How many items per reason, all of them and those finished in the window."""

    by_reason: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(all_ for all_, _ in self.by_reason.values())

    @property
    def recent(self) -> int:
        return sum(recent for _, recent in self.by_reason.values())


@dataclass(frozen=True)
class OutboxFigures:
    pending: int
    retrying: int
    failed: int
    sent: int
    overdue: int
    """Pending rows due for longer than `stuck_after`."""
    oldest_due: datetime | None
    """The earliest next attempt of a pending row that is due now; None when none is."""
    failed_rows: list[OutboxLine]


@dataclass(frozen=True)
class PollerFigures:
    mailbox: str
    desk: str | None
    zone: tzinfo | None
    last_pass: datetime | None
    last_uid: int | None


@dataclass(frozen=True)
class Status:
    now: datetime
    due_within: timedelta
    since: timedelta
    stuck_after: timedelta
    desks: list[DeskFigures]
    spool_waiting: int
    spool_oldest: datetime | None
    outbox: OutboxFigures
    quarantine: ReasonCounts
    dropped: ReasonCounts
    pollers: list[PollerFigures]
    problems: list[str]
    """Why the engine is unhealthy (the module's rule); empty when healthy."""

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def spool_oldest_age(self) -> timedelta | None:
        return None if self.spool_oldest is None else self.now - self.spool_oldest


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def gather(
    source: StatusSource,
    config: Config,
    now: datetime,
    *,
    due_within: timedelta = DUE_WITHIN,
    since: timedelta = WINDOW,
    stuck_after: timedelta | None = None,
) -> Status:
    """Every figure at `now`, from one look at the store."""
    stuck = stuck_after if stuck_after is not None else config.settings.metrics.stuck_after
    queries = StatusQueries(source)
    tickets: dict[str, dict[str, int]] = {}
    for desk, state, count in queries.tickets():
        tickets.setdefault(desk, dict.fromkeys(TICKET_STATES, 0))[state] = count
    clocks: dict[tuple[str, str], ClockFigures] = {
        (desk, clock): ClockFigures(breached, soon, next_due)
        for desk, clock, breached, soon, next_due in queries.clocks(now, now + due_within)
    }
    names = sorted(set(config.desks) | set(tickets))
    desks = [
        DeskFigures(
            name=name,
            zone=config.desks[name].zone if name in config.desks else None,
            tickets=tickets.get(name, dict.fromkeys(TICKET_STATES, 0)),
            first_response=clocks.get((name, "first_response"), ClockFigures()),
            resolution=clocks.get((name, "resolution"), ClockFigures()),
        )
        for name in names
    ]
    waiting, oldest = queries.spool()
    outbox = _outbox(queries, now, stuck)
    quarantine, dropped = ReasonCounts(), ReasonCounts()
    for kind, reason, count, recent in queries.set_aside(now - since):
        target = quarantine if kind == "quarantined" else dropped
        target.by_reason[reason] = (count, recent)
    known = queries.pollers()
    pollers = []
    for box in config.settings.imap:
        uid, last = known.get(box.name, (None, None))
        zone = config.desks[box.desk].zone if box.desk in config.desks else None
        pollers.append(PollerFigures(box.name, box.desk, zone, last, uid))
    problems = []
    if oldest is not None and now - oldest > stuck:
        problems.append(
            f"spool: {waiting} mail(s) wait for processing, the oldest accepted "
            f"{_minutes(now - oldest)} ago (limit {_minutes(stuck)}): is a worker running?"
        )
    if outbox.overdue:
        assert outbox.oldest_due is not None
        problems.append(
            f"outbox: {outbox.overdue} repl(ies) due and not sent for up to "
            f"{_minutes(now - outbox.oldest_due)} (limit {_minutes(stuck)}):"
            " is the sender of `mailbot serve` running?"
        )
    return Status(
        now=now,
        due_within=due_within,
        since=since,
        stuck_after=stuck,
        desks=desks,
        spool_waiting=waiting,
        spool_oldest=oldest,
        outbox=outbox,
        quarantine=quarantine,
        dropped=dropped,
        pollers=pollers,
        problems=problems,
    )


def _outbox(queries: StatusQueries, now: datetime, stuck: timedelta) -> OutboxFigures:
    by_state = queries.outbox(now - stuck)
    pending, retrying, overdue, earliest = by_state.get("pending", (0, 0, 0, None))
    failed = by_state.get("failed", (0, 0, 0, None))[0]
    return OutboxFigures(
        pending=pending,
        retrying=retrying,
        failed=failed,
        sent=by_state.get("sent", (0, 0, 0, None))[0],
        overdue=overdue,
        oldest_due=earliest if earliest is not None and earliest <= now else None,
        failed_rows=queries.outbox_rows(["failed"], FAILED_SHOWN) if failed else [],
    )


# -- as scripts read it --------------------------------------------------------------------


def _zone_of(config: Config, desk: str | None) -> tzinfo | None:
    return config.desks[desk].zone if desk is not None and desk in config.desks else None


def outbox_line_json(line: OutboxLine, config: Config) -> dict[str, Any]:
    """One outbox row, its times in its desk's offset (local time when it has no desk)."""
    zone = _zone_of(config, line.desk)
    return {
        "id": line.id,
        "ticket": line.ticket,
        "desk": line.desk,
        "kind": line.kind,
        "to": line.to,
        "state": line.state,
        "attempts": line.attempts,
        "next_attempt_at": iso(line.next_attempt_at, zone) if line.state == "pending" else None,
        "last_error": line.last_error,
        "created_at": iso(line.created_at, zone),
        "sent_at": iso(line.sent_at, zone),
    }


def outbox_listing(
    source: StatusSource, config: Config, *, state: str | None, limit: int
) -> list[dict[str, Any]]:
    """`mailbot outbox list`: rows of `state`, newest first; by default the ones still
    worth a look (pending and failed), not the sent bulk."""
    states = [state] if state else [s for s in OUTBOX_STATES if s != "sent"]
    return [outbox_line_json(line, config) for line in StatusQueries(source).outbox_rows(
        states, limit
    )]  # fmt: skip


def _counts_json(counts: ReasonCounts) -> dict[str, Any]:
    return {
        "total": counts.total,
        "recent": counts.recent,
        "by_reason": {
            reason: {"total": total, "recent": recent}
            for reason, (total, recent) in sorted(counts.by_reason.items())
        },
    }


def _clock_json(clock: ClockFigures, zone: tzinfo | None) -> dict[str, Any]:
    return {
        "breached": clock.breached,
        "due_soon": clock.due_soon,
        "next_due": iso(clock.next_due, zone),
    }


def as_json(status: Status, config: Config) -> dict[str, Any]:
    """The whole status for scripts: counts as numbers, times ISO 8601 with their offset
    (a desk's figures in its time zone, the rest in this machine's), absent times null."""
    age = status.spool_oldest_age
    outbox = status.outbox
    return {
        "now": iso(status.now),
        "healthy": status.healthy,
        "problems": status.problems,
        "due_within_hours": status.due_within.total_seconds() / 3600,
        "recent_since": iso(status.now - status.since),
        "stuck_after_seconds": status.stuck_after.total_seconds(),
        "desks": [
            {
                "desk": d.name,
                "time_zone": str(d.zone) if d.zone is not None else None,
                "tickets": d.tickets,
                "first_response": _clock_json(d.first_response, d.zone),
                "resolution": _clock_json(d.resolution, d.zone),
            }
            for d in status.desks
        ],
        "spool": {
            "waiting": status.spool_waiting,
            "oldest_accepted_at": iso(status.spool_oldest),
            "oldest_age_seconds": round(age.total_seconds(), 3) if age is not None else None,
        },
        "outbox": {
            "pending": outbox.pending,
            "retrying": outbox.retrying,
            "failed": outbox.failed,
            "sent": outbox.sent,
            "overdue": outbox.overdue,
            "oldest_due_at": iso(outbox.oldest_due),
            "failed_rows": [outbox_line_json(line, config) for line in outbox.failed_rows],
        },
        "quarantine": _counts_json(status.quarantine),
        "dropped": _counts_json(status.dropped),
        "pollers": [
            {
                "mailbox": p.mailbox,
                "desk": p.desk,
                "last_pass_at": iso(p.last_pass, p.zone),
                "last_uid": p.last_uid,
            }
            for p in status.pollers
        ],
    }


# -- as people read it ---------------------------------------------------------------------


def _when(moment: datetime | None, now: datetime, zone: tzinfo | None = None) -> str:
    shown = local(moment, zone)
    if moment is None or shown is None:
        return "never"
    text = shown.strftime("%Y-%m-%d %H:%M:%S %z")
    text = text[:-2] + ":" + text[-2:]
    delta = now - moment
    if delta >= timedelta(0):
        return f"{text} ({_minutes(delta)} ago)"
    return f"{text} (in {_minutes(-delta)})"


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


def as_text(status: Status) -> list[str]:
    """The status as lines for a terminal: nothing printed as None, every time with its offset."""
    from tabulate import tabulate

    now = status.now
    lines = [
        f"mailbot status at {_when(now, now).split(' (')[0]}",
        "health: "
        + ("ok" if status.healthy else "UNHEALTHY")
        + f" (stuck after {_minutes(status.stuck_after)})",
        *(f"  - {problem}" for problem in status.problems),
        "",
        f"tickets (due: within the next {_hours(status.due_within)}; times in the desk's zone)",
    ]
    table = [
        [
            d.name,
            *(d.tickets.get(s, 0) for s in TICKET_STATES),
            f"{d.first_response.breached} / {d.first_response.due_soon}",
            f"{d.resolution.breached} / {d.resolution.due_soon}",
            _when(
                min(
                    (c.next_due for c in (d.first_response, d.resolution) if c.next_due),
                    default=None,
                ),
                now,
                d.zone,
            ).replace("never", "-"),
        ]
        for d in status.desks
    ]
    headers = [
        "desk", "new", "open", "waiting", "solved", "closed",
        "1st response\nbreached / due", "resolution\nbreached / due", "next due",
    ]  # fmt: skip
    lines += ["  " + row for row in tabulate(table, headers=headers).splitlines()]
    lines += [
        "",
        f"spool: {status.spool_waiting} waiting for processing"
        + (
            f", the oldest accepted {_when(status.spool_oldest, now)}"
            if status.spool_oldest is not None
            else ""
        ),
    ]
    outbox = status.outbox
    lines.append(
        f"outbox: {outbox.pending} pending ({outbox.retrying} retrying), "
        f"{outbox.failed} failed, {outbox.sent} sent"
        + (f"; due since {_when(outbox.oldest_due, now)}" if outbox.oldest_due else "")
    )
    for line in outbox.failed_rows:
        lines.append(
            printable(
                f"  failed #{line.id} {line.kind} to {line.to or '-'}"
                + (f" (ticket {line.ticket})" if line.ticket else "")
                + f", {line.attempts} attempt(s): {line.last_error or 'no answer recorded'}"
            )
        )
    if outbox.failed > len(outbox.failed_rows):
        lines.append(
            f"  ... and {outbox.failed - len(outbox.failed_rows)} more:"
            " mailbot outbox list --state failed"
        )
    window = _hours(status.since)
    for title, counts in (("quarantine", status.quarantine), ("dropped", status.dropped)):
        lines.append(f"{title}: {counts.total} in all, {counts.recent} in the last {window}")
        for reason, (total, recent) in sorted(counts.by_reason.items()):
            lines.append(printable(f"  {reason}: {total} ({recent} in the last {window})"))
    if status.pollers:
        lines.append("imap pollers (last finished pass):")
        for p in status.pollers:
            lines.append(f"  {p.mailbox}: {_when(p.last_pass, now, p.zone)}")
    return lines
