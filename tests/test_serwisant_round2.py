"""Serwisant Online, issue 11 (POLICIES.md §1, seed 000 ¶4, ¶6-7): deadlines in working days,
entitlements before the exclusions they are the subject of, and the contact-form answer to
training and installation requests, through `mailbot ingest --json` with the shipped desk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbot.business_time import Calendar
from tests.test_business_time import (
    CLEVERBOX,
    CRMONLINE,
    NIGHTS,
    PROPERTY,
    PROPERTY_CALENDARS,
    SERWISANT,
    SPLIT,
    US,
    calendar_and_instant,
    is_working_or_end,
    w,
)

# -- the arithmetic of working days -----------------------------------------------------------

DAY_CALENDARS = [*PROPERTY_CALENDARS, CLEVERBOX]
# Calendars without working time in an hour the clocks repeat (Europe's autumn night): the
# wall clock of a working moment only grows there, which monotonicity in the start needs.
OFFICE_CALENDARS = [SERWISANT, CRMONLINE, SPLIT, NIGHTS, CLEVERBOX]
# Every working day with the same hours: N days are N times the day's working time.
UNIFORM_CALENDARS = [SERWISANT, CRMONLINE, CLEVERBOX]

days = st.integers(0, 30)


def working_day_of(calendar: Calendar, r: datetime) -> date:
    """The local day a result belongs to (an interval's end belongs to its interval's day)."""
    moment = r if calendar.is_working(r) else r - US
    return moment.astimezone(calendar.zone).date()


def has_work(calendar: Calendar, day: date) -> bool:
    start = datetime(day.year, day.month, day.day, tzinfo=calendar.zone)
    return calendar.working_time_between(start, start + timedelta(days=1)) > timedelta(0)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # the policy's own example: Wednesday 11:00 -> Thursday 11:00, Friday 11:00
        (w(2026, 12, 2, 11), 1, w(2026, 12, 3, 11)),
        (w(2026, 12, 2, 11), 2, w(2026, 12, 4, 11)),
        # after hours counts from the next working-day start (Thursday 09:00)
        (w(2026, 12, 2, 18), 1, w(2026, 12, 4, 9)),
        (w(2026, 12, 2, 16), 2, w(2026, 12, 7, 9)),  # 16:00 is after hours; Sat, Sun off
        (w(2026, 12, 3, 7, 30), 1, w(2026, 12, 4, 9)),  # before opening: that day's 09:00
        # Friday -> Monday; 10 November 2026 (Tue) -> 12th: 11 November is Independence Day
        (w(2026, 12, 4, 15, 59), 1, w(2026, 12, 7, 15, 59)),
        (w(2026, 11, 10, 11), 1, w(2026, 11, 12, 11)),
        # Wigilia (24 Dec, a day off since 2025), Christmas 25-26 Dec, then the weekend
        (w(2026, 12, 23, 11), 1, w(2026, 12, 28, 11)),
        (w(2026, 12, 23, 11), 2, w(2026, 12, 29, 11)),
        (w(2026, 12, 24, 10), 1, w(2026, 12, 29, 9)),  # a holiday is after hours all day
        (w(2026, 12, 2, 11), 0, w(2026, 12, 2, 11)),
    ],
)
def test_working_days_table(start: datetime, n: int, expected: datetime) -> None:
    result = SERWISANT.add_working_days(start, n)
    assert result.tzinfo is UTC
    assert result == expected, f"{result.astimezone(expected.tzinfo)} != {expected}"


def test_a_shorter_day_keeps_the_result_inside_its_hours() -> None:
    # SPLIT: Mon-Thu 08-12 and 13-17, Fri 08-12. Thursday 14:00 + 1 day: Friday closes at 12
    assert SPLIT.add_working_days(w(2026, 12, 3, 14), 1) == w(2026, 12, 4, 12)
    # Thursday 12:30 is in the lunch break: the clock starts at 13:00; Friday ends at 12:00
    assert SPLIT.add_working_days(w(2026, 12, 3, 12, 30), 1) == w(2026, 12, 4, 12)
    assert SPLIT.add_working_days(w(2026, 12, 3, 9), 1) == w(2026, 12, 4, 9)


def test_days_must_be_a_whole_number() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            SERWISANT.add_working_days(w(2026, 12, 2, 11), bad)  # type: ignore[arg-type]


@PROPERTY
@given(calendar_and_instant(DAY_CALENDARS), days)
def test_working_days_land_in_working_hours_of_a_working_day(
    ct: tuple[Calendar, datetime], n: int
) -> None:
    calendar, t = ct
    r = calendar.add_working_days(t, n)
    assert r.tzinfo is UTC
    assert is_working_or_end(calendar, r)
    assert r >= t.astimezone(UTC)
    if n == 0:
        assert r == calendar.next_working_moment(t)
        return
    # holidays and days without hours are skipped: exactly n working days on from the start's
    start_day = working_day_of(calendar, calendar.next_working_moment(t))
    end_day = working_day_of(calendar, r)
    assert end_day not in calendar.holidays or calendar.always
    between = [start_day + timedelta(days=k) for k in range(1, (end_day - start_day).days + 1)]
    assert sum(has_work(calendar, d) for d in between) == n
    assert calendar.working_time_between(t, r) > timedelta(0)


@PROPERTY
@given(calendar_and_instant(OFFICE_CALENDARS), calendar_and_instant(OFFICE_CALENDARS), days)
def test_working_days_are_monotonic_in_the_start(
    ct1: tuple[Calendar, datetime], ct2: tuple[Calendar, datetime], n: int
) -> None:
    calendar = ct1[0]
    t1, t2 = sorted([ct1[1], ct2[1].astimezone(calendar.zone)])
    assert calendar.add_working_days(t1, n) <= calendar.add_working_days(t2, n)


@PROPERTY
@given(calendar_and_instant(DAY_CALENDARS), days, days)
def test_more_days_are_never_earlier(ct: tuple[Calendar, datetime], a: int, b: int) -> None:
    calendar, t = ct
    a, b = min(a, b), max(a, b)
    assert calendar.add_working_days(t, a) <= calendar.add_working_days(t, b)
    if a < b:
        assert calendar.add_working_days(t, a) < calendar.add_working_days(t, b)


@PROPERTY
@given(calendar_and_instant(UNIFORM_CALENDARS), days, days)
def test_uniform_days_compose_and_are_whole_days_of_working_time(
    ct: tuple[Calendar, datetime], a: int, b: int
) -> None:
    calendar, t = ct
    r = calendar.add_working_days(t, a + b)
    assert r == calendar.add_working_days(calendar.add_working_days(t, a), b)
    day_length = {SERWISANT: 7, CRMONLINE: 8, CLEVERBOX: 9}[calendar]
    assert calendar.working_time_between(t, r) == timedelta(hours=day_length * (a + b))
