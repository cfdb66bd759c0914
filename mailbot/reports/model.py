"""reports.model: the monthly SLA report of a desk as data — per level and per customer, plus a
weekly trend. `build(db, desk, month, now)` reads the month's tickets through the store's
`ReportQueries` and is otherwise pure; the renderers (`formats`, `chart`, `html`) only show it.

What is counted, exactly:

- **The month** is the desk's local calendar month (`desk.timezone`): a ticket belongs to it by
  its `received_at` read in the desk's time zone.
- **The target** a ticket is judged on is its first-response deadline (`first_response_due`);
  where its SLA clock has no first-response target, its resolution deadline (`resolution_due`,
  answered by `solved_at`). The due times are the ones kept on the ticket, so pauses and
  extensions are already in them.
- **met**: answered at or before the due time, or answered while the clock was on hold from the
  start (the ticket waited for the customer, so no due time was ever set). **breached**: answered
  after the due time, or still unanswered and `due < now`. **pending**: unanswered, and either not
  yet due (`due >= now`) or its clock on hold. Tickets without any SLA target are counted in
  `tickets` only: `Row.no_target = tickets - met - breached - pending`.
- **compliance** is `met / (met + breached)`; pending tickets do not count yet; None when there
  is nothing to judge.
- **First-response hours** (median, p90) are taken over the group's tickets that have a
  `first_responded_at`, in working hours on the ticket's own calendar
  (`sla_clock["calendar"]`); tickets without an SLA clock (or whose calendar is no
  longer in the config) count wall-clock hours. Time the clock waited for the customer is left
  out where the ticket still shows it: when the clocks last (re)started at or before the first
  response (`sla_running_since <= first_responded_at`), the figure is `sla_used_seconds` plus the
  working time from `sla_running_since` to the response, which is exactly what the SLA clock
  counted. Otherwise (the clock was paused or restarted after the response, so the stretches
  before it are no longer on the ticket) it is the working time from `received_at` to the
  response, which overstates tickets that also waited for the customer before the response.
- **median** is the usual one (the mean of the two middle values for an even count); **p90** is
  the nearest-rank 90th percentile: the value at rank `ceil(0.9 * n)` (1-based) of the sorted
  values, always one of the observed values (n <= 9: the largest; n = 10: the 9th; n = 20:
  the 18th). Both are rounded to 0.01 h, and every output shows that same rounded figure.
- **Weekly** rows are ISO weeks (Monday to Sunday, desk time) by `received_at`; the first and
  last week of a month only hold the month's own days.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mailbot import deadlines
from mailbot.business_time import Calendar, month_bounds
from mailbot.config import DeskSettings
from mailbot.store import Database, ReportQueries

DEFAULT_TARGET = 0.95
"""The compliance the chart draws as its target line (as_html's `target=`)."""
NO_CUSTOMER = "(no customer)"
NO_LEVEL = "(no level)"


@dataclass(frozen=True)
class Row:
    """One line of the report: a group (`level`, `customer`, or `all` for the desk total)."""

    group: str
    key: str
    tickets: int
    met: int
    breached: int
    pending: int
    median_first_response_hours: float | None
    p90_first_response_hours: float | None

    @property
    def no_target(self) -> int:
        """Tickets without any SLA target (neither met, breached nor pending)."""
        return self.tickets - self.met - self.breached - self.pending

    @property
    def compliance(self) -> float | None:
        return _compliance(self.met, self.breached)


@dataclass(frozen=True)
class Week:
    """One ISO week of the month (desk time), by the tickets received in it."""

    start: date
    """The week's Monday (may fall in the previous month; only the month's days count)."""
    tickets: int
    met: int
    breached: int
    pending: int
    compliance: float | None
    """met / (met + breached); None when no ticket of the week was met or breached."""


@dataclass(frozen=True)
class Report:
    desk: str
    month: str
    generated_at: datetime
    rows: tuple[Row, ...]
    weekly: tuple[Week, ...]
    title: str = ""
    """The desk's display name ("CleverBox:CRM"); the desk's name when empty."""
    timezone: str = "UTC"
    """The desk's time zone: month and weeks are counted, and times shown, in it."""

    @property
    def total(self) -> Row:
        return next(r for r in self.rows if r.group == "all")

    @property
    def display_name(self) -> str:
        return self.title or self.desk


def nearest_rank(values: Sequence[float], percent: int) -> float:
    """The nearest-rank percentile: the value at 1-based rank ceil(percent/100 * n), sorted."""
    if not values:
        raise ValueError("nearest_rank of no values")
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    ordered = sorted(values)
    rank = (percent * len(ordered) + 99) // 100  # ceil without floating-point surprises
    return ordered[rank - 1]


def _compliance(met: int, breached: int) -> float | None:
    judged = met + breached
    return met / judged if judged else None


class _Tally:
    __slots__ = ("breached", "hours", "met", "pending", "tickets")

    def __init__(self) -> None:
        self.tickets = 0
        self.met = 0
        self.breached = 0
        self.pending = 0
        self.hours: list[float] = []

    def add(self, verdict: int, hours: float | None) -> None:
        self.tickets += 1
        if verdict == _MET:
            self.met += 1
        elif verdict == _BREACHED:
            self.breached += 1
        elif verdict == _PENDING:
            self.pending += 1
        if hours is not None:
            self.hours.append(hours)

    def row(self, group: str, key: str) -> Row:
        median = p90 = None
        if self.hours:
            median = round(statistics.median(self.hours), 2)
            p90 = round(nearest_rank(self.hours, 90), 2)
        return Row(group, key, self.tickets, self.met, self.breached, self.pending, median, p90)


_MET, _BREACHED, _PENDING, _NO_TARGET = range(4)
_FIRST, _RESOLUTION = "first", "resolution"


def build(db: Database, desk: DeskSettings, month: str, now: datetime) -> Report:
    """The desk's SLA report for `month` (YYYY-MM, desk time), judged as of `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    zone = desk.zone
    start, end = month_bounds(month, zone)
    cals = deadlines.calendars(desk)
    clocks: dict[str, tuple[str | None, Calendar | None]] = {}

    def clock_of(data: dict[str, Any]) -> tuple[str | None, Calendar | None]:
        """(which target the ticket is judged on, its calendar), worked out once per target."""
        key = repr(sorted(data.items()))
        known = clocks.get(key)
        if known is None:
            clock = deadlines.Clock.from_json(data)
            kind = (
                _FIRST
                if clock.first_response is not None
                else _RESOLUTION
                if clock.resolution is not None
                else None
            )
            known = clocks[key] = (kind, cals.get(clock.calendar))
        return known

    total = _Tally()
    levels: defaultdict[str, _Tally] = defaultdict(_Tally)
    customers: defaultdict[str, _Tally] = defaultdict(_Tally)
    weeks: defaultdict[date, _Tally] = defaultdict(_Tally)
    with db.reading() as session:
        received_tickets = ReportQueries(session).tickets_received(desk.name, start, end)
        for (
            level,
            customer,
            received,
            first_due,
            resolution_due,
            responded,
            solved,
            raw_clock,
            running_since,
            used_seconds,
        ) in received_tickets:
            calendar: Calendar | None = None
            if raw_clock is not None:
                kind, calendar = clock_of(raw_clock)
            else:  # no clock kept: judge on whichever due time the ticket has
                kind = (
                    _FIRST
                    if first_due is not None
                    else _RESOLUTION
                    if resolution_due is not None
                    else None
                )
            if kind is None:
                verdict = _NO_TARGET
            else:
                answered, due = (
                    (responded, first_due) if kind == _FIRST else (solved, resolution_due)
                )
                if answered is not None:
                    verdict = _MET if due is None or answered <= due else _BREACHED
                elif due is not None and due < now:
                    verdict = _BREACHED
                else:
                    verdict = _PENDING
            hours: float | None = None
            if responded is not None:
                if calendar is None:
                    seconds = (responded - received).total_seconds()
                elif running_since is not None and running_since <= responded:
                    seconds = used_seconds + (
                        calendar.working_time_between(running_since, responded).total_seconds()
                    )
                else:
                    seconds = calendar.working_time_between(received, responded).total_seconds()
                hours = max(seconds, 0.0) / 3600
            local_day = received.astimezone(zone).date()
            monday = local_day - timedelta(days=local_day.weekday())
            total.add(verdict, hours)
            levels[level or NO_LEVEL].add(verdict, hours)
            customers[customer or NO_CUSTOMER].add(verdict, hours)
            weeks[monday].add(verdict, hours)

    rows = [total.row("all", "all")]
    rows += [levels[k].row("level", k) for k in sorted(levels, key=lambda k: (k == NO_LEVEL, k))]
    rows += [
        customers[k].row("customer", k)
        for k in sorted(
            customers, key=lambda k: (k == NO_CUSTOMER, -customers[k].tickets, k.casefold())
        )
    ]
    weekly = []
    monday = start.date() - timedelta(days=start.weekday())
    last_day = (end - timedelta(days=1)).date()
    while monday <= last_day:
        tally = weeks.get(monday) or _Tally()
        weekly.append(
            Week(
                monday,
                tally.tickets,
                tally.met,
                tally.breached,
                tally.pending,
                _compliance(tally.met, tally.breached),
            )
        )
        monday += timedelta(days=7)
    return Report(
        desk=desk.name,
        month=month,
        generated_at=now,
        rows=tuple(rows),
        weekly=tuple(weekly),
        title=desk.display_name,
        timezone=desk.timezone,
    )
