"""deadlines: which SLA target a ticket gets and when its clocks are due. Pure.

The desk's `[sla]` lists targets; the customer's own contract (`sla_targets`) is tried first;
the first target whose keys all equal the ticket's annotations (level, priority, category,
type, product) wins. A target counts working hours on a named calendar, "the end of the
same working day", or whole working days ("1 working day": the same clock time the next
working day, as a customer reads "within 24 h" of a desk open seven hours a day). Clocks
stop while the ticket waits for the customer: the working time already used is kept, and
on the customer's answer the due times are computed anew from what remains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mailbot.business_time import Calendar
from mailbot.config import Customer, DeskSettings, Hours, working_days
from mailbot.store import Ticket

AROUND_THE_CLOCK = "around_the_clock"
"""The calendar of desks without [sla]: every hour counts (first_response_hours)."""

_calendars: dict[int, tuple[DeskSettings, dict[str, Calendar]]] = {}


def calendars(desk: DeskSettings) -> dict[str, Calendar]:
    """The desk's calendars, built once (holiday tables are not free)."""
    cached = _calendars.get(id(desk))
    if cached is not None and cached[0] is desk:
        return cached[1]
    built = {name: cal.build(name, desk.timezone) for name, cal in desk.calendars.items()}
    built.setdefault(
        AROUND_THE_CLOCK,
        Calendar.from_config(
            timezone=desk.timezone, hours=None, country=None, always=True, name=AROUND_THE_CLOCK
        ),
    )
    _calendars[id(desk)] = (desk, built)
    return built


@dataclass(frozen=True)
class Clock:
    """The target a ticket got: kept on the ticket, so a later config change does not move it."""

    calendar: str
    first_response: Hours | None
    resolution: Hours | None

    def as_json(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "first_response": self.first_response,
            "resolution": self.resolution,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Clock:
        return cls(data["calendar"], data.get("first_response"), data.get("resolution"))

    @classmethod
    def of(cls, ticket: Ticket) -> Clock | None:
        """The one decoder of a ticket's stored target (None: the ticket has no SLA clock)."""
        return cls.from_json(ticket.sla_clock) if ticket.sla_clock else None


def choose(
    desk: DeskSettings, customer: Customer | None, annotations: Mapping[str, str | None]
) -> Clock | None:
    """The first matching target of the customer's contract, then of the desk."""
    if desk.sla is None:
        return Clock(AROUND_THE_CLOCK, desk.first_response_hours, None)
    targets = [*(customer.sla_targets if customer else ()), *desk.sla.targets]
    for target in targets:
        if target.matches(annotations):
            return Clock(
                target.calendar or desk.sla.calendar, target.first_response, target.resolution
            )
    return None


def due(
    desk: DeskSettings, clock: Clock, target: Hours | None, start: datetime, used: timedelta
) -> datetime | None:
    """When `target` is reached, counting from `start` with `used` working time already gone."""
    if target is None:
        return None
    calendar = calendars(desk)[clock.calendar]
    if target == "same_working_day":
        return calendar.end_of_working_day(start)
    days = working_days(target)
    if days is not None:
        due_at = calendar.add_working_days(start, days)
        if used <= timedelta(0):
            return due_at
        # after a wait for the customer: the days' working time, less what was used
        whole = calendar.working_time_between(start, due_at)
        return calendar.add(start, max(whole - used, timedelta(0)))
    if isinstance(target, str):
        raise ValueError(f"unknown deadline {target!r}")
    remaining = timedelta(hours=target) - used
    return calendar.add(start, max(remaining, timedelta(0)))


def used_between(desk: DeskSettings, clock: Clock, start: datetime, end: datetime) -> timedelta:
    return calendars(desk)[clock.calendar].working_time_between(start, end)
