"""business_time: calendars, holidays, deadlines, pauses; pure (no I/O, no clock).

A `Calendar` says when a desk works: a time zone, local wall-clock working intervals per weekday
(several a day allowed), days off (local dates), or `always` (24/7). Every function takes the
instants it needs as aware datetimes and answers in aware UTC; nothing reads the clock.

Semantics, chosen so the arithmetic is exact and composes:

- Working time is a set of half-open instants: an interval 09:00-16:00 contains 09:00 and
  excludes 16:00. `is_working(t)` is membership in that set.
- A working interval is a local wall-clock interval; its real length is the UTC difference of its
  ends, so 09:00-17:00 is 8 real hours on any day, and a 24/7 day in Europe/Warsaw is 23 hours in
  March and 25 hours in October. A wall time that does not exist (02:30 on the night clocks go
  forward) stands for the instant the clocks jump (03:00 new time); an ambiguous one (02:30 on
  the night clocks go back) for its first occurrence (fold=0). Plain fold=0 for a missing time
  (02:30 read as 03:30 new time) would make the wall-to-UTC map go backwards at 03:00 and let
  intervals overlap; mapping it to the jump keeps the map monotone and every length >= 0.
- A working day is a local calendar day; an interval may end at midnight (`time(0, 0)` as an end,
  or "24:00" in config). Night shifts are two intervals on two days.
- `add(t, d)` is the earliest instant `r >= t` with `working_time_between(t, r) == d` that is
  either working or the end of a working interval. For `d > 0` that is the instant the d-th
  microsecond of working time is used up, so a duration that fits a day exactly ends at the
  interval's end ("by 16:00", not "at 09:00 tomorrow"). For `d == 0` it is
  `next_working_moment(t)` (a clock started outside hours starts at the next working moment),
  except when `t` is itself the end of an interval, where it is `t`. With this definition
  `add(t, a + b) == add(add(t, a), b)` holds for all `a, b >= 0`, and every result is working or
  an interval end: `is_working(r) or is_working(r - 1 microsecond)`.
- Pauses compose from the two primitives: elapsed = `working_time_between(start, paused)`;
  after the pause, due = `add(resumed, target - elapsed)`.

Holidays come from the `holidays` package, expanded lazily year by year as dates are asked
about (no year range is frozen in code: a deadline in 2031 meets 2031's holidays). The package
models Ukrainian martial law: from 2023 Ukraine has no public holidays off at all.

Cost: per-day working intervals (in UTC microseconds) and per-week totals are memoised on the
calendar, so a computation costs the number of days it walks, and whole weeks are skipped by
their total: `add(t, 1000 h)` is a few dozen dictionary look-ups once the weeks are known.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_pkg
import jdatetime

__all__ = ["DAY_NAMES", "Calendar", "month_bounds", "month_start"]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SOLAR_HIJRI_BEFORE = 1700
"""A month `YYYY-MM` with a year below this is a Solar Hijri one (1405 is 2026/27)."""

_WallHours = tuple[tuple[tuple[int, int], ...], ...]
"""Per weekday (0=Monday), sorted, merged (start, end) in microseconds after local midnight."""


class _Day(NamedTuple):
    start: int  # local midnight, UTC microseconds since the epoch
    end: int  # the next local midnight
    intervals: tuple[tuple[int, int], ...]  # working [start, end) in UTC microseconds
    total: int  # working microseconds in the day


def _to_us(t: datetime) -> int:
    return (t - _EPOCH) // _US


def _from_us(u: int) -> datetime:
    return _EPOCH + timedelta(microseconds=u)


def _aware_us(t: datetime, what: str) -> int:
    if not isinstance(t, datetime):
        raise ValueError(f"{what} must be a datetime, not {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({t.isoformat()}); give a time zone")
    return _to_us(t)


def _duration_us(d: timedelta) -> int:
    if not isinstance(d, timedelta):
        raise ValueError(f"duration must be a timedelta, not {type(d).__name__}")
    if d < timedelta(0):
        raise ValueError(f"duration must not be negative ({d})")
    return d // _US


def _time_us(t: time) -> int:
    if not isinstance(t, time):
        raise ValueError(f"working hours must be datetime.time values, not {type(t).__name__}")
    if t.tzinfo is not None:
        raise ValueError(f"working hours are local wall-clock times; {t} carries a time zone")
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _us_time(u: int) -> time:
    u %= _DAY_US
    seconds, micro = divmod(u, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro)


def _clock_text(u: int) -> str:
    return "24:00" if u == _DAY_US else _us_time(u).strftime("%H:%M")


def _normalise_hours(hours: Mapping[int, Iterable[tuple[time, time]]]) -> _WallHours:
    per_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for weekday, intervals in hours.items():
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday {weekday!r}: use 0 (Monday) to 6 (Sunday)")
        for interval in intervals:
            start, end = interval
            s = _time_us(start)
            e = _time_us(end) or _DAY_US  # an end of 00:00 is midnight at the end of the day
            if e <= s:
                raise ValueError(
                    f"{DAY_NAMES[weekday]}: {_clock_text(s)}-{_clock_text(e)} ends before it "
                    "starts; split a night shift into two days (e.g. 22:00-24:00 and 00:00-06:00)"
                )
            per_day[weekday].append((s, e))
    result: list[tuple[tuple[int, int], ...]] = []
    for weekday, day_intervals in enumerate(per_day):
        merged: list[tuple[int, int]] = []
        for s, e in sorted(day_intervals):
            if merged and s < merged[-1][1]:
                ps, pe = merged[-1]
                raise ValueError(
                    f"{DAY_NAMES[weekday]}: {_clock_text(ps)}-{_clock_text(pe)} and "
                    f"{_clock_text(s)}-{_clock_text(e)} overlap"
                )
            if merged and s == merged[-1][1]:  # touching intervals are one stretch of work
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        result.append(tuple(merged))
    return tuple(result)


@dataclass(frozen=True, repr=False)
class Calendar:
    """When a desk works; see the module docstring for the exact semantics.

    `hours` is normalised on construction: sorted, touching intervals merged, weekdays without
    work left out. `always=True` makes every instant working time (hours and holidays ignored;
    the "working day" is then the local calendar day).
    """

    zone: ZoneInfo
    hours: Mapping[int, tuple[tuple[time, time], ...]] = field(hash=False)
    holidays: Holidays | frozenset[date]
    """Days off: a `Holidays` (a country's, expanding lazily) or a fixed set of dates."""
    always: bool = False
    name: str = ""
    _wall: _WallHours = field(init=False, repr=False, compare=False, default=())
    _days: dict[int, _Day] = field(init=False, repr=False, compare=False, default_factory=dict)
    _weeks: dict[int, int] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.zone, tzinfo):
            raise ValueError(f"zone must be a ZoneInfo, not {type(self.zone).__name__}")
        wall = _normalise_hours(self.hours)
        if not self.always and not any(wall):
            raise ValueError("no working hours: give at least one interval, or always = true")
        days_off = (
            self.holidays if isinstance(self.holidays, Holidays) else Holidays(added=self.holidays)
        )
        hours = MappingProxyType(
            {
                weekday: tuple((_us_time(s), _us_time(e)) for s, e in intervals)
                for weekday, intervals in enumerate(wall)
                if intervals
            }
        )
        object.__setattr__(self, "hours", hours)
        object.__setattr__(self, "holidays", days_off)
        object.__setattr__(self, "_wall", wall)

    def __repr__(self) -> str:
        if self.always:
            what = "always=True"
        else:
            hours = ", ".join(
                f"{DAY_NAMES[weekday]} "
                + " ".join(f"{_clock_text(s)}-{_clock_text(e)}" for s, e in intervals)
                for weekday, intervals in enumerate(self._wall)
                if intervals
            )
            what = f"hours={{{hours}}}, holidays={self.holidays!r}"
        zone = getattr(self.zone, "key", str(self.zone))
        return f"Calendar(name={self.name!r}, zone={zone!r}, {what})"

    # -- construction from a desk's configuration ----------------------------------------------

    @classmethod
    def from_config(
        cls,
        *,
        timezone: str,
        hours: Mapping[str, str | list[str]] | None,
        country: str | None,
        subdivision: str | None = None,
        add: Iterable[date] = (),
        remove: Iterable[date] = (),
        always: bool = False,
        name: str = "",
    ) -> Calendar:
        """A calendar from config values, e.g. `hours={"mon-fri": "09:00-16:00"}`.

        Keys of `hours` are a day (`mon`..`sun`), a range that may wrap (`sat-wed` is Saturday to
        Wednesday) or a comma list of those; values one `"HH:MM-HH:MM"` or a list of them, an
        end of `24:00` (or `00:00`) meaning midnight. Holidays are the `holidays` package's public
        holidays of `country` (ISO 3166-1 alpha-2) and `subdivision`, any year, plus `add`,
        minus `remove` (a removed date that is no holiday is ignored, so a config survives
        updates of the package's data). Raises ValueError with a message naming the bad value.
        """
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(
                f"timezone: unknown time zone {timezone!r} (use an IANA name such as "
                "'Europe/Warsaw')"
            ) from exc
        parsed: dict[int, list[tuple[time, time]]] = {}
        if hours:
            for key, value in hours.items():
                days = _parse_days(key)
                texts = [value] if isinstance(value, str) else value
                if not isinstance(texts, list) or not texts:
                    raise ValueError(
                        f'hours."{key}": give "HH:MM-HH:MM" or a list of them, not {value!r}'
                    )
                intervals = [_parse_interval(key, text) for text in texts]
                for day in days:
                    parsed.setdefault(day, []).extend(intervals)
        elif not always:
            raise ValueError('hours: give working hours (e.g. {"mon-fri" = "09:00-16:00"})')
        if country is None and subdivision is not None:
            raise ValueError(f"subdivision {subdivision!r} given without a country")
        days_off = Holidays(
            country=_country_code(country, subdivision) if country is not None else None,
            subdivision=subdivision,
            added=frozenset(_as_date(d, "add") for d in add),
            removed=frozenset(_as_date(d, "remove") for d in remove),
        )
        try:
            return cls(
                zone=zone,
                hours={day: tuple(intervals) for day, intervals in parsed.items()},
                holidays=days_off,
                always=always,
                name=name,
            )
        except ValueError as exc:
            raise ValueError(f"hours: {exc}") from exc

    # -- the arithmetic --------------------------------------------------------------------------

    def is_working(self, t: datetime) -> bool:
        """Whether `t` is working time (intervals are half-open: 16:00 ends 09:00-16:00)."""
        u = _aware_us(t, "t")
        if self.always:
            return True
        return self._working_at(u, self._day_of(u))

    def next_working_moment(self, t: datetime) -> datetime:
        """`t` itself if it is working time, else the start of the next working interval (UTC)."""
        u = _aware_us(t, "t")
        if self.always:
            return _from_us(u)
        return _from_us(self._next_working(u, self._day_of(u)))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of working time after `start` is used up (UTC).

        A duration that ends exactly at the end of an interval gives that end (16:00), not the
        next start. `add(t, 0)` is `next_working_moment(t)`, or `t` when `t` ends an interval.
        """
        u = _aware_us(start, "start")
        rem = _duration_us(duration)
        if self.always:
            return _from_us(u + rem)
        o = self._day_of(u)
        if rem == 0:
            if self._working_at(u, o) or self._is_interval_end(u, o):
                return _from_us(u)
            return _from_us(self._next_working(u, o))
        days = self._days
        while True:
            day = days.get(o) or self._day(o)
            for s, e in day.intervals:
                if e <= u:
                    continue
                st = s if s > u else u
                if rem <= e - st:
                    return _from_us(st + rem)
                rem -= e - st
            o += 1
            if o % 7 == 1:  # a Monday (ordinal 1 is Monday 0001-01-01): skip used-up weeks
                week = o // 7
                while (total := self._week_total(week)) < rem:
                    rem -= total
                    week += 1
                o = week * 7 + 1

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in [a, b); zero when b <= a."""
        ua = _aware_us(a, "a")
        ub = _aware_us(b, "b")
        if ub <= ua:
            return timedelta(0)
        if self.always:
            return timedelta(microseconds=ub - ua)
        total = 0
        o = self._day_of(ua)
        while True:
            day = self._day(o)
            if day.start >= ub:
                break
            for s, e in day.intervals:
                lo = s if s > ua else ua
                hi = e if e < ub else ub
                if hi > lo:
                    total += hi - lo
            o += 1
            if o % 7 == 1:  # a Monday: whole weeks before b count by their total
                week = o // 7
                while self._day(week * 7 + 8).start <= ub:
                    total += self._week_total(week)
                    week += 1
                o = week * 7 + 1
        return timedelta(microseconds=total)

    def end_of_working_day(self, t: datetime) -> datetime:
        """The end of `t`'s working day ("solved the same working day"), in UTC.

        The end of the day's last working interval when `t` is before it (before, inside or
        between the day's intervals); after it (16:00 itself included) or on a day without
        work: the end of the next working day. For a 24/7 calendar, the next local midnight.
        """
        u = _aware_us(t, "t")
        o = self._day_of(u)
        day = self._day(o)
        if day.intervals and u < day.intervals[-1][1]:
            return _from_us(day.intervals[-1][1])
        o += 1
        while not (day := self._day(o)).intervals:
            o += 1
        return _from_us(day.intervals[-1][1])

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local clock time `days` working days later (UTC): "within one working day".

        A regulation that promises an answer "within 24 to 48 h" on a 09:00-16:00 desk means
        days as a customer reads them (a Wednesday 11:00 mail is answered by Thursday 11:00),
        not 24 working hours (which would be more than three working days). The clock starts
        at `next_working_moment(start)`: a mail after hours counts from the next working-day
        start, so Wednesday 18:00 is due Friday 09:00 for one day. Days off are skipped.

        A working day with other hours than the start's keeps the result in it: a clock time
        before its first interval gives that start, one after an interval (in a break, after
        closing) that interval's end. So every result is working time or an interval end, and
        a later start never gives an earlier result. `days == 0` is `next_working_moment`.
        """
        u = _aware_us(start, "start")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise ValueError(f"days must be a whole number >= 0, not {days!r}")
        if not self.always:
            u = self._next_working(u, self._day_of(u))
        if days == 0:
            return _from_us(u)
        o = self._day_of(u)
        local = self._local(u)
        offset = _to_us(local.replace(tzinfo=UTC)) - _to_us(
            datetime.combine(local.date(), time(), tzinfo=UTC)
        )
        for _ in range(days):
            o += 1
            while not self._day(o).intervals:
                o += 1
        intervals = self._day(o).intervals
        target = self._wall_to_us(date.fromordinal(o), offset)
        if target < intervals[0][0]:
            return _from_us(intervals[0][0])
        end = next(e for s, e in reversed(intervals) if s <= target)
        return _from_us(min(target, end))

    # -- internals -------------------------------------------------------------------------------

    def _working_at(self, u: int, o: int) -> bool:
        return any(s <= u < e for s, e in self._day(o).intervals)

    def _is_interval_end(self, u: int, o: int) -> bool:
        day = self._day(o)
        if any(e == u for _, e in day.intervals):
            return True
        # an interval ending at midnight belongs to the day before
        return u == day.start and any(e == u for _, e in self._day(o - 1).intervals)

    def _next_working(self, u: int, o: int) -> int:
        while True:
            for s, e in self._day(o).intervals:
                if e > u:
                    return s if s > u else u
            o += 1

    def _day_of(self, u: int) -> int:
        """The ordinal of the local day whose [midnight, next midnight) holds instant `u`."""
        o = _from_us(u).astimezone(self.zone).toordinal()
        while u < self._day(o).start:
            o -= 1
        while u >= self._day(o).end:
            o += 1
        return o

    def _day(self, o: int) -> _Day:
        day = self._days.get(o)
        if day is None:
            day = self._days[o] = self._compute_day(o)
        return day

    def _week_total(self, week: int) -> int:
        total = self._weeks.get(week)
        if total is None:
            first = week * 7 + 1
            total = self._weeks[week] = sum(self._day(first + i).total for i in range(7))
        return total

    def _compute_day(self, o: int) -> _Day:
        local = date.fromordinal(o)
        start = self._wall_to_us(local, 0)
        end = self._wall_to_us(local, _DAY_US)
        if self.always:
            intervals: tuple[tuple[int, int], ...] = ((start, end),) if end > start else ()
        elif local in self.holidays:
            intervals = ()
        else:
            pairs = (
                (self._wall_to_us(local, s), self._wall_to_us(local, e))
                for s, e in self._wall[local.weekday()]
            )
            intervals = tuple((s, e) for s, e in pairs if e > s)
        return _Day(start, end, intervals, sum(e - s for s, e in intervals))

    def _wall_to_us(self, local: date, offset_us: int) -> int:
        """The instant of a local wall-clock time: fold=0 if it exists, else the clocks' jump."""
        naive = datetime.combine(local, time()) + timedelta(microseconds=offset_us)
        u0 = _to_us(naive.replace(tzinfo=self.zone))
        if self._local(u0) == naive:
            return u0
        # `naive` falls in a gap; the jump is the first instant whose wall clock is past it
        u1 = _to_us(naive.replace(tzinfo=self.zone, fold=1))
        lo, hi = min(u0, u1), max(u0, u1)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._local(mid) > naive:
                hi = mid
            else:
                lo = mid
        return hi

    def _local(self, u: int) -> datetime:
        return _from_us(u).astimezone(self.zone).replace(tzinfo=None)


# -- config parsing --------------------------------------------------------------------------------


def _day_index(key: str, name: str) -> int:
    name = name.strip().lower()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise ValueError(
        f'hours."{key}": unknown day {name!r} (use {", ".join(DAY_NAMES)}, or a range "mon-fri")'
    )


def _parse_days(key: str) -> list[int]:
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"hours: {key!r} is not a day or a range of days such as 'mon-fri'")
    days: list[int] = []
    for part in key.split(","):
        first, sep, last = part.partition("-")
        a = _day_index(key, first)
        b = _day_index(key, last) if sep else a
        days.extend((a + k) % 7 for k in range((b - a) % 7 + 1))  # ranges wrap: sat-wed
    return days


def _parse_clock(key: str, text: str, *, end: bool) -> time:
    m = _CLOCK.fullmatch(text.strip())
    if m is None:
        raise ValueError(f'hours."{key}": {text.strip()!r} is not a time like 09:00')
    hour, minute = int(m[1]), int(m[2])
    if end and hour == 24 and minute == 0:
        return time(0, 0)  # midnight at the end of the day
    if hour > 23 or minute > 59:
        raise ValueError(f'hours."{key}": {text.strip()!r} is not a time of day')
    return time(hour, minute)


def _parse_interval(key: str, text: object) -> tuple[time, time]:
    if not isinstance(text, str):
        raise ValueError(f'hours."{key}": {text!r} is not an interval like "09:00-16:00"')
    first, sep, last = text.replace("–", "-").partition("-")
    if not sep:
        raise ValueError(f'hours."{key}": {text!r} is not an interval like "09:00-16:00"')
    start = _parse_clock(key, first, end=False)
    stop = _parse_clock(key, last, end=True)
    if stop != time(0, 0) and stop <= start:
        raise ValueError(
            f'hours."{key}": {text!r} ends before it starts; split a night shift into two days '
            '(e.g. "fri" = "22:00-24:00", "sat" = "00:00-06:00")'
        )
    return start, stop


def _as_date(value: object, what: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{what}: {value!r} is not a date (write 2026-12-24)")
    return value


@functools.cache
def _country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 and alpha-3 codes of every country the holidays package has."""
    try:
        from holidays.registry import COUNTRIES
    except ImportError:  # a holidays release that moved its registry: the slow public list
        return frozenset(holidays_pkg.list_supported_countries())
    return frozenset(name for names in COUNTRIES.values() for name in names[1:] if name.isupper())


def _country_code(country: str, subdivision: str | None) -> str:
    """The country's code, checked against the `holidays` package now (at configuration time)."""
    if not isinstance(country, str):
        raise ValueError(f"country: {country!r} is not an ISO 3166-1 alpha-2 code such as 'PL'")
    code = country.strip().upper()
    if subdivision is not None and not isinstance(subdivision, str):
        raise ValueError(f"subdivision: {subdivision!r} is not a subdivision code")
    # the package's registry of codes, not an instance nor list_supported_countries(): those
    # import country modules (all ~250 of them, 0.14 s, for the list), which every command
    # would pay at start-up; the calendar builds its country when first asked
    if code not in _country_codes():
        raise ValueError(
            f"country: {country!r} is not a country the holidays package knows (use an ISO "
            "3166-1 alpha-2 code such as 'PL')"
        )
    if subdivision is None:
        return code
    known = holidays_pkg.list_supported_countries()  # only a desk naming a subdivision pays
    if subdivision not in known.get(code, ()):
        raise ValueError(
            f"subdivision: {country} has no subdivision {subdivision!r} in the holidays package"
        )
    return code


class Holidays:
    """Days off: a country's public holidays, plus dates added, minus dates removed.

    The country's days come from the `holidays` package, which computes a year the first time a
    date in it is asked about: no range of years is fixed in advance. Equal when built from the
    same settings, so two calendars from one configuration compare equal.
    """

    def __init__(
        self,
        *,
        country: str | None = None,
        subdivision: str | None = None,
        added: Iterable[date] = (),
        removed: Iterable[date] = (),
    ) -> None:
        self.country = country
        self.subdivision = subdivision
        self.added = frozenset(added)
        for day in self.added | frozenset(removed):
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holidays must be dates, not {day!r}")
        self._lock = threading.Lock()
        # built on first use: building one imports the package's country modules (0.14 s),
        # which a read-only command that never asks about a date must not pay
        self._official: holidays_pkg.HolidayBase | None = None
        # removing a day that is no holiday changes nothing (a config survives package updates)
        self.removed = frozenset(removed)

    def _official_days(self) -> holidays_pkg.HolidayBase | None:
        """The package's calendar for the country; call with the lock held."""
        if self._official is None and self.country is not None:
            self._official = holidays_pkg.country_holidays(
                self.country, subdiv=self.subdivision, years=[]
            )
        return self._official

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date) or isinstance(day, datetime):
            return False
        if day in self.added:
            return True
        if self.country is None or day in self.removed:
            return False
        with self._lock:  # the package fills a year in on first use; one thread at a time
            official = self._official_days()
            return official is not None and day in official

    def _effective_removals(self) -> frozenset[date]:
        """The removed days that are holidays: removing any other day is no difference."""
        with self._lock:
            official = self._official_days()
        return frozenset(d for d in self.removed if official is not None and d in official)

    def _key(self) -> tuple[object, ...]:
        return (self.country, self.subdivision, self.added, self._effective_removals())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Holidays) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        where = f"{self.country}-{self.subdivision}" if self.subdivision else self.country
        removed = len(self._effective_removals())
        return f"Holidays({where or 'none'}, +{len(self.added)}, -{removed})"


# -- calendar months -----------------------------------------------------------------------------


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's first instant, local midnights in `zone`.

    `2026-11` is a Gregorian month; `1405-08` (a year before 1700) a Solar Hijri one, which is
    how a Persian desk's customers count the months they are billed and reported by.
    """
    match = _MONTH.match(month)
    if match is None:
        raise ValueError(f"month: expected YYYY-MM (e.g. 2026-11), got {month!r}")
    year, number = int(match.group(1)), int(match.group(2))
    first: date
    following: date
    if year < SOLAR_HIJRI_BEFORE:
        first = jdatetime.date(year, number, 1).togregorian()
        following = jdatetime.date(year + number // 12, number % 12 + 1, 1).togregorian()
    else:
        first = date(year, number, 1)
        following = date(year + number // 12, number % 12 + 1, 1)
    return _midnight(first, zone), _midnight(following, zone)


def month_start(moment: datetime, zone: ZoneInfo) -> datetime:
    """The first instant of the Gregorian month `moment` falls in, as `zone` counts months."""
    local = moment.astimezone(zone)
    return _midnight(date(local.year, local.month, 1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)
