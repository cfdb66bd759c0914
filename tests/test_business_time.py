"""Tests of mailbot.business_time: hand-checked tables for the desks' clocks, DST, properties.

Every expected answer in the tables was worked out by hand from the calendar and the `holidays`
package's data (holidays 0.109); the reasoning is the comment on each row. Expected values are
written in the desk's local time; results are compared as instants and must be UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbot.business_time import Calendar, month_bounds, month_start

WARSAW = ZoneInfo("Europe/Warsaw")
BRATISLAVA = ZoneInfo("Europe/Bratislava")
MOSCOW = ZoneInfo("Europe/Moscow")
TEHRAN = ZoneInfo("Asia/Tehran")
KYIV = ZoneInfo("Europe/Kyiv")
US = timedelta(microseconds=1)
H = timedelta(hours=1)

# The five desks' calendars, as config/desks/*.toml describe them (POLICIES.md).
SERWISANT = Calendar.from_config(
    timezone="Europe/Warsaw", hours={"mon-fri": "09:00-16:00"}, country="PL", name="serwisant"
)
CLOUD_247 = Calendar.from_config(
    timezone="Europe/Bratislava", hours=None, country="SK", always=True, name="cloudempiere-p1"
)
CLOUD_OFFICE = Calendar.from_config(
    timezone="Europe/Bratislava", hours={"mon-fri": "08:00-17:00"}, country="SK", name="cloud"
)
GRSOFT = Calendar.from_config(
    timezone="Europe/Moscow", hours={"mon-fri": "09:00-18:00"}, country="RU", name="grsoft"
)
CRMONLINE = Calendar.from_config(
    timezone="Asia/Tehran", hours={"sat-wed": "08:00-16:00"}, country="IR", name="crmonline"
)
CLEVERBOX = Calendar.from_config(
    timezone="Europe/Kyiv", hours={"mon-fri": "09:00-18:00"}, country="UA", name="cleverbox"
)
# Test calendars: a 24/7 one in a zone with DST, a lunch break, night work ending at midnight.
WARSAW_247 = Calendar.from_config(timezone="Europe/Warsaw", hours=None, country=None, always=True)
SPLIT = Calendar.from_config(
    timezone="Europe/Warsaw",
    hours={"mon-thu": ["08:00-12:00", "13:00-17:00"], "fri": "08:00-12:00"},
    country="PL",
)
NIGHTS = Calendar.from_config(
    timezone="Europe/Warsaw",
    hours={"mon-thu": "18:00-00:00", "fri": "20:00-24:00", "sat": "00:00-04:00"},
    country=None,
)


def at(
    zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, *, fold: int = 0
) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone, fold=fold)


def w(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return at(WARSAW, y, mo, d, h, mi)


def check(result: datetime, expected: datetime) -> None:
    assert result.tzinfo is UTC
    assert result == expected, f"{result.astimezone(expected.tzinfo)} != {expected}"


# -- hand-checked tables ---------------------------------------------------------------------------

ADD_TABLE: list[tuple[str, Calendar, datetime, timedelta, datetime]] = [
    # CleverBox, Friday 2026-11-20 17:30 Kyiv, 24 working hours: Fri 17:30-18:00 0.5 h (23.5
    # left), Mon 23rd 9 h (14.5), Tue 24th 9 h (5.5), Wed 25th 09:00 + 5.5 h = 14:30. No day off
    # in between: under martial law the package lists no Ukrainian public holidays from 2023.
    (
        "kyiv friday 17:30 +24h",
        CLEVERBOX,
        at(KYIV, 2026, 11, 20, 17, 30),
        24 * H,
        at(KYIV, 2026, 11, 25, 14, 30),
    ),
    # CleverBox emergency, same arrival, 3 working hours: Fri 0.5 h, Mon 09:00 + 2.5 h = 11:30.
    (
        "kyiv friday 17:30 +3h",
        CLEVERBOX,
        at(KYIV, 2026, 11, 20, 17, 30),
        3 * H,
        at(KYIV, 2026, 11, 23, 11, 30),
    ),
    # CleverBox extended to 72 h: Fri 0.5 h; Mon 23 .. Fri 27 and Mon 30, Tue Dec 1 are 7 days
    # x 9 h = 63 h (63.5 used, 8.5 left); Wed Dec 2 09:00 + 8.5 h = 17:30.
    (
        "kyiv friday 17:30 +72h",
        CLEVERBOX,
        at(KYIV, 2026, 11, 20, 17, 30),
        72 * H,
        at(KYIV, 2026, 12, 2, 17, 30),
    ),
    # Serwisant, Saturday before Easter (2026-04-04), 24 h: Sat/Sun off, Easter Monday 04-06 a
    # Polish holiday; Tue 04-07 09:00: 7 h Tue, 7 h Wed, 7 h Thu (21), Fri 09:00 + 3 h = 12:00.
    ("warsaw easter saturday +24h", SERWISANT, w(2026, 4, 4, 10), 24 * H, w(2026, 4, 10, 12)),
    # Serwisant, same mail, resolution 48 h: Tue..Fri 4 x 7 = 28 h, Mon 04-13 7 h (35),
    # Tue 04-14 7 h (42), Wed 04-15 09:00 + 6 h = 15:00.
    ("warsaw easter saturday +48h", SERWISANT, w(2026, 4, 4, 10), 48 * H, w(2026, 4, 15, 15)),
    # Serwisant, Wed 2026-12-23 15:00, 24 h: Wed 1 h (23 left); Thu 24 (Christmas Eve, a day
    # off in Poland since 2025), Fri 25, Sat 26 holidays, Sun off; Mon 28 7 h (16), Tue 29 7 h
    # (9), Wed 30 7 h (2), Thu 31 (a working day) 09:00 + 2 h = 11:00.
    ("warsaw before christmas +24h", SERWISANT, w(2026, 12, 23, 15), 24 * H, w(2026, 12, 31, 11)),
    # Serwisant, Monday 09:00, exactly one day's 7 h: ends at the interval's end, 16:00 the same
    # day (not 09:00 Tuesday).
    ("warsaw exact day", SERWISANT, w(2026, 11, 16, 9), 7 * H, w(2026, 11, 16, 16)),
    # Serwisant, boundaries: 09:00 + 1 h = 10:00; 16:00 (not working) + 1 h = Tue 10:00;
    # 08:59 + 1 h starts at 09:00 = 10:00.
    ("warsaw at 09:00", SERWISANT, w(2026, 11, 16, 9), H, w(2026, 11, 16, 10)),
    ("warsaw at 16:00", SERWISANT, w(2026, 11, 16, 16), H, w(2026, 11, 17, 10)),
    ("warsaw at 08:59", SERWISANT, w(2026, 11, 16, 8, 59), H, w(2026, 11, 16, 10)),
    # Serwisant, on Independence Day (Wed 2026-11-11) 10:00 + 1 h: Thu 12th 09:00 + 1 h = 10:00.
    ("warsaw on a holiday", SERWISANT, w(2026, 11, 11, 10), H, w(2026, 11, 12, 10)),
    # cloudempiere P1 on the 24/7 calendar, Sunday 2026-11-22 02:00 + 1 h = 03:00 Sunday.
    (
        "bratislava p1 sunday 02:00",
        CLOUD_247,
        at(BRATISLAVA, 2026, 11, 22, 2),
        H,
        at(BRATISLAVA, 2026, 11, 22, 3),
    ),
    # cloudempiere P2 (4 h, 08:00-17:00), Thu 2026-04-02 15:00: Thu 2 h (2 left); Good Friday
    # 04-03 and Easter Monday 04-06 are Slovak holidays, the weekend between; Tue 04-07 08:00 +
    # 2 h = 10:00.
    (
        "bratislava p2 before easter",
        CLOUD_OFFICE,
        at(BRATISLAVA, 2026, 4, 2, 15),
        4 * H,
        at(BRATISLAVA, 2026, 4, 7, 10),
    ),
    # cloudempiere P3 (8 h), Mon 2026-11-16 16:00: Mon 1 h (7 left); Tue 17 November is no day
    # off in the package for 2026 (Slovakia's 2025 consolidation suspended it), so Tue 08:00 +
    # 7 h = 15:00.
    (
        "bratislava p3 over 17 november",
        CLOUD_OFFICE,
        at(BRATISLAVA, 2026, 11, 16, 16),
        8 * H,
        at(BRATISLAVA, 2026, 11, 17, 15),
    ),
    # crmonline, Wed 2026-11-18 15:00 Tehran, 5 h: Wed 1 h (4 left); Thu/Fri off; Sat 21
    # (no Iranian holiday: the nearest are Fri 13 Nov and Wed 23 Dec) 08:00 + 4 h = 12:00.
    (
        "tehran wednesday 15:00 +5h",
        CRMONLINE,
        at(TEHRAN, 2026, 11, 18, 15),
        5 * H,
        at(TEHRAN, 2026, 11, 21, 12),
    ),
    # crmonline, Wed 2026-03-18 15:00, 5 h: Wed 1 h; Thu 19 off, Fri 20 off (Oil Nationalization
    # Day too); Sat 21 .. Tue 24 Nowruz (and Eid al-Fitr 21/22); Wed 25 08:00 + 4 h = 12:00.
    (
        "tehran before nowruz +5h",
        CRMONLINE,
        at(TEHRAN, 2026, 3, 18, 15),
        5 * H,
        at(TEHRAN, 2026, 3, 25, 12),
    ),
    # crmonline, Thursday 2026-11-19 10:00 (weekend): Sat 21 08:00 + 5 h = 13:00.
    (
        "tehran thursday +5h",
        CRMONLINE,
        at(TEHRAN, 2026, 11, 19, 10),
        5 * H,
        at(TEHRAN, 2026, 11, 21, 13),
    ),
    # GRSoft, Wed 2026-12-30 17:00 Moscow, 24 h: Wed 1 h (23 left); Thu 31 Dec (day off moved
    # from 4 Jan), 1-8 Jan 2027 New Year holidays and Christmas, Sat 9/Sun 10 weekend;
    # Mon 11 9 h (14), Tue 12 9 h (5), Wed 13 09:00 + 5 h = 14:00.
    (
        "moscow new year +24h",
        GRSOFT,
        at(MOSCOW, 2026, 12, 30, 17),
        24 * H,
        at(MOSCOW, 2027, 1, 13, 14),
    ),
    # October night (Warsaw 2026-10-25, CEST -> CET at 03:00): the day has 25 hours, so 24 h on
    # a 24/7 calendar from 00:00 local ends at 23:00 local the same day.
    ("247 october night", WARSAW_247, w(2026, 10, 25), 24 * H, w(2026, 10, 25, 23)),
    # Office hours across that night are unaffected in wall-clock terms: Fri 10-23 15:00 + 2 h
    # = Fri 1 h, Mon 26 09:00 + 1 h = 10:00 (now CET; 09:00 UTC instead of 08:00).
    ("office over october night", SERWISANT, w(2026, 10, 23, 15), 2 * H, w(2026, 10, 26, 10)),
    # Spring (2026-03-29, CET -> CEST at 02:00): the day has 23 hours, so 24 h from 00:00 local
    # ends at 01:00 on Monday.
    ("247 march night", WARSAW_247, w(2026, 3, 29), 24 * H, w(2026, 3, 30, 1)),
    ("office over march night", SERWISANT, w(2026, 3, 27, 15), 2 * H, w(2026, 3, 30, 10)),
    # Lunch break (08:00-12:00, 13:00-17:00): Mon 2026-11-16 11:00 + 2 h = 1 h to 12:00, then
    # 13:00 + 1 h = 14:00; + 1 h ends at the morning's end, 12:00; in the break + 30 min = 13:30.
    ("split over lunch", SPLIT, w(2026, 11, 16, 11), 2 * H, w(2026, 11, 16, 14)),
    ("split to lunch", SPLIT, w(2026, 11, 16, 11), H, w(2026, 11, 16, 12)),
    ("split in lunch", SPLIT, w(2026, 11, 16, 12, 30), H / 2, w(2026, 11, 16, 13, 30)),
    # Friday has only the morning: Fri 2026-11-20 11:00 + 2 h = 1 h, Mon 08:00 + 1 h = 09:00.
    ("split friday", SPLIT, w(2026, 11, 20, 11), 2 * H, w(2026, 11, 23, 9)),
    # Night work: Fri 20:00-24:00 and Sat 00:00-04:00 are one stretch across midnight:
    # Fri 23:00 + 2 h = Sat 01:00.
    ("nights across midnight", NIGHTS, w(2026, 11, 20, 23), 2 * H, w(2026, 11, 21, 1)),
    # Mon 18:00-24:00: Mon 23:00 + 1 h ends at Monday's midnight (Tue 00:00, not working);
    # + 2 h: 1 h Monday, Tue 18:00 + 1 h = 19:00.
    ("nights to midnight", NIGHTS, w(2026, 11, 16, 23), H, w(2026, 11, 17)),
    ("nights past midnight", NIGHTS, w(2026, 11, 16, 23), 2 * H, w(2026, 11, 17, 19)),
    # Zero duration: outside hours it is the next working moment (Sat -> Mon 09:00); inside
    # hours the start itself; at an interval's end the end itself (so add composes exactly).
    ("zero on saturday", SERWISANT, w(2026, 11, 14, 10), timedelta(0), w(2026, 11, 16, 9)),
    ("zero in hours", SERWISANT, w(2026, 11, 16, 10), timedelta(0), w(2026, 11, 16, 10)),
    ("zero at 16:00", SERWISANT, w(2026, 11, 16, 16), timedelta(0), w(2026, 11, 16, 16)),
    ("zero at lunch", SPLIT, w(2026, 11, 16, 12, 30), timedelta(0), w(2026, 11, 16, 13)),
    # Tue 00:00 ends Monday's 18:00-24:00 although it belongs to Tuesday: still an end.
    ("zero at midnight end", NIGHTS, w(2026, 11, 17), timedelta(0), w(2026, 11, 17)),
]


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [row[1:] for row in ADD_TABLE],
    ids=[row[0] for row in ADD_TABLE],
)
def test_add_table(
    calendar: Calendar, start: datetime, duration: timedelta, expected: datetime
) -> None:
    result = calendar.add(start, duration)
    check(result, expected)
    assert calendar.working_time_between(start, result) == duration


END_OF_DAY_TABLE: list[tuple[str, Calendar, datetime, datetime]] = [
    # Serwisant payments: Tue 2026-11-17 15:50 -> 16:00 that day.
    ("payments 15:50", SERWISANT, w(2026, 11, 17, 15, 50), w(2026, 11, 17, 16)),
    # 16:10 is after hours -> 16:00 the next working day, Wed 18th.
    ("payments 16:10", SERWISANT, w(2026, 11, 17, 16, 10), w(2026, 11, 18, 16)),
    # 16:00 itself is not working time (half-open) -> the next day too.
    ("payments 16:00", SERWISANT, w(2026, 11, 17, 16), w(2026, 11, 18, 16)),
    # Before hours the same day counts: 07:00 -> 16:00.
    ("payments 07:00", SERWISANT, w(2026, 11, 17, 7), w(2026, 11, 17, 16)),
    # Tue 2026-11-10 16:10: Wed 11th is Independence Day -> Thu 12th 16:00.
    ("payments before holiday", SERWISANT, w(2026, 11, 10, 16, 10), w(2026, 11, 12, 16)),
    # Saturday -> Monday 16:00.
    ("payments saturday", SERWISANT, w(2026, 11, 14, 10), w(2026, 11, 16, 16)),
    # Friday 16:10 -> Monday 16:00.
    ("payments friday evening", SERWISANT, w(2026, 11, 20, 16, 10), w(2026, 11, 23, 16)),
    # In a lunch break the day is not over: 12:30 -> 17:00.
    ("split lunch", SPLIT, w(2026, 11, 16, 12, 30), w(2026, 11, 16, 17)),
    # An interval ending at midnight: Fri 21:00 -> Friday's 24:00 (Sat 00:00).
    ("nights midnight", NIGHTS, w(2026, 11, 20, 21), w(2026, 11, 21)),
    # 24/7: the working day is the local calendar day; Oct 25 ends at Oct 26 00:00 CET.
    ("247 october", WARSAW_247, w(2026, 10, 25, 12), w(2026, 10, 26)),
]


@pytest.mark.parametrize(
    ("calendar", "t", "expected"),
    [row[1:] for row in END_OF_DAY_TABLE],
    ids=[row[0] for row in END_OF_DAY_TABLE],
)
def test_end_of_working_day_table(calendar: Calendar, t: datetime, expected: datetime) -> None:
    check(calendar.end_of_working_day(t), expected)


BETWEEN_TABLE: list[tuple[str, Calendar, datetime, datetime, timedelta]] = [
    # Fri 10-23 09:00 to Mon 10-26 16:00 over the October night: 7 + 7 = 14 h, as any week.
    ("office october", SERWISANT, w(2026, 10, 23, 9), w(2026, 10, 26, 16), 14 * H),
    # 24/7, Sunday 10-25 00:00 to Monday 00:00: the day has 25 hours.
    ("247 october day", WARSAW_247, w(2026, 10, 25), w(2026, 10, 26), 25 * H),
    # 24/7, Sunday 03-29: 23 hours.
    ("247 march day", WARSAW_247, w(2026, 3, 29), w(2026, 3, 30), 23 * H),
    # A whole 2026 on Serwisant's calendar: 2026 has 52 weeks + 1 day (Thu) = 261 weekdays;
    # 8 Polish holidays fall on a weekday (Jan 1, Jan 6, Apr 6, May 1, Jun 4, Nov 11, Dec 24,
    # Dec 25; Apr 5, May 3, May 24, Aug 15, Nov 1, Dec 26 are weekends): 253 days x 7 h.
    ("serwisant 2026", SERWISANT, w(2026, 1, 1), w(2027, 1, 1), 253 * 7 * H),
    # Backwards or empty ranges are zero.
    ("backwards", SERWISANT, w(2026, 11, 17, 12), w(2026, 11, 17, 10), timedelta(0)),
    ("empty", SERWISANT, w(2026, 11, 17, 12), w(2026, 11, 17, 12), timedelta(0)),
    # Lunch: 11:30 to 13:30 is 30 + 30 min.
    ("split lunch", SPLIT, w(2026, 11, 16, 11, 30), w(2026, 11, 16, 13, 30), H),
]


@pytest.mark.parametrize(
    ("calendar", "a", "b", "expected"),
    [row[1:] for row in BETWEEN_TABLE],
    ids=[row[0] for row in BETWEEN_TABLE],
)
def test_working_time_between_table(
    calendar: Calendar, a: datetime, b: datetime, expected: timedelta
) -> None:
    assert calendar.working_time_between(a, b) == expected


def test_paused_clock_three_days() -> None:
    # Serwisant, 24 working hours to first response, started Mon 2026-11-16 09:00.
    start, target = w(2026, 11, 16, 9), 24 * H
    # Without a pause: Mon 7, Tue 7, Wed 7 (21), Thu 09:00 + 3 h = 12:00.
    check(SERWISANT.add(start, target), w(2026, 11, 19, 12))
    # Paused at 14:00 Monday (the agent asked a question): 5 h elapsed.
    paused = w(2026, 11, 16, 14)
    elapsed = SERWISANT.working_time_between(start, paused)
    assert elapsed == 5 * H
    # The customer answers 3 calendar days later, Thu 2026-11-19 14:00: 19 h remain.
    resumed = paused + timedelta(days=3)
    remaining = target - elapsed
    assert remaining == 19 * H
    due = SERWISANT.add(resumed, remaining)
    # Thu 14:00-16:00 2 h (17 left), Fri 7 h (10), Mon 23 7 h (3), Tue 24 09:00 + 3 h = 12:00.
    check(due, w(2026, 11, 24, 12))
    # The pause held Mon 14-16, Tue, Wed, Thu 09-14: 2 + 7 + 7 + 5 = 21 working hours, so the
    # whole span holds the target plus the pause.
    assert SERWISANT.working_time_between(paused, resumed) == 21 * H
    assert SERWISANT.working_time_between(start, due) == target + 21 * H


def test_is_working_and_next_working_moment() -> None:
    assert SERWISANT.is_working(w(2026, 11, 16, 9))
    assert not SERWISANT.is_working(w(2026, 11, 16, 16))
    assert SERWISANT.is_working(w(2026, 11, 16, 16) - US)
    assert not SERWISANT.is_working(w(2026, 11, 11, 10))  # Independence Day
    assert not SERWISANT.is_working(w(2026, 11, 14, 10))  # Saturday
    check(SERWISANT.next_working_moment(w(2026, 11, 14, 10)), w(2026, 11, 16, 9))
    check(SERWISANT.next_working_moment(w(2026, 11, 16, 10)), w(2026, 11, 16, 10))
    check(SERWISANT.next_working_moment(w(2026, 11, 16, 16)), w(2026, 11, 17, 9))
    check(SERWISANT.next_working_moment(w(2026, 4, 4, 10)), w(2026, 4, 7, 9))  # Easter
    assert not SPLIT.is_working(w(2026, 11, 16, 12))
    assert SPLIT.is_working(w(2026, 11, 16, 13))
    check(SPLIT.next_working_moment(w(2026, 11, 20, 12)), w(2026, 11, 23, 8))
    assert NIGHTS.is_working(w(2026, 11, 21))  # Saturday 00:00 continues Friday's night
    assert not NIGHTS.is_working(w(2026, 11, 17))  # Tuesday 00:00 ends Monday's night
    check(CRMONLINE.next_working_moment(at(TEHRAN, 2026, 11, 20, 9)), at(TEHRAN, 2026, 11, 21, 8))
    assert CLOUD_247.is_working(at(BRATISLAVA, 2026, 12, 25, 3))  # holidays ignored when 24/7
    check(
        CLOUD_247.next_working_moment(at(BRATISLAVA, 2026, 12, 25, 3)),
        at(BRATISLAVA, 2026, 12, 25, 3),
    )


def test_dst_gap_and_fold_in_intervals() -> None:
    def sunday(hours: str) -> Calendar:
        return Calendar.from_config(timezone="Europe/Warsaw", hours={"sun": hours}, country=None)

    march_sat, march_mon = w(2026, 3, 28), w(2026, 3, 30)
    october_sat, october_mon = w(2026, 10, 24), w(2026, 10, 26)
    # 01:00-04:00 on the March night: 01:00-02:00 CET, then 03:00-04:00 CEST = 2 real hours; on
    # the October night 01:00-02:00 CEST, 02:00-03:00 twice, 03:00-04:00 CET = 4 real hours.
    cal = sunday("01:00-04:00")
    assert cal.working_time_between(march_sat, march_mon) == 2 * H
    assert cal.working_time_between(october_sat, october_mon) == 4 * H
    # A start that does not exist (02:30 in March) stands for the jump, 03:00 CEST: 1 h.
    cal = sunday("02:30-04:00")
    assert cal.working_time_between(march_sat, march_mon) == H
    assert cal.is_working(w(2026, 3, 29, 3))
    check(cal.next_working_moment(march_sat), w(2026, 3, 29, 3))
    # An end that does not exist ends at the jump: 01:00-02:00 CET only; 03:00 CEST is outside.
    cal = sunday("01:00-02:30")
    assert cal.working_time_between(march_sat, march_mon) == H
    assert not cal.is_working(w(2026, 3, 29, 3))
    check(cal.add(w(2026, 3, 29, 1, 30), H / 2), w(2026, 3, 29, 3))
    # An ambiguous start (02:00 in October) is its first occurrence (CEST): 02:00 CEST to
    # 03:00 CET is 2 real hours, and both 02:30s are inside.
    cal = sunday("02:00-03:00")
    assert cal.working_time_between(october_sat, october_mon) == 2 * H
    assert cal.is_working(at(WARSAW, 2026, 10, 25, 2, 30, fold=0))
    assert cal.is_working(at(WARSAW, 2026, 10, 25, 2, 30, fold=1))
    # 09:00-17:00 is 8 real hours on both nights' days.
    cal = sunday("09:00-17:00")
    assert cal.working_time_between(march_sat, march_mon) == 8 * H
    assert cal.working_time_between(october_sat, october_mon) == 8 * H
    # 24/7 from the second 02:30 (CET) on the October night + 1 h = 03:30 CET.
    check(
        WARSAW_247.add(at(WARSAW, 2026, 10, 25, 2, 30, fold=1), H),
        at(WARSAW, 2026, 10, 25, 3, 30),
    )


def test_any_input_zone_same_instant() -> None:
    t = w(2026, 11, 20, 15)
    for other in (UTC, TEHRAN, ZoneInfo("America/New_York")):
        assert SERWISANT.add(t.astimezone(other), 3 * H) == SERWISANT.add(t, 3 * H)
        assert SERWISANT.end_of_working_day(t.astimezone(other)) == w(2026, 11, 20, 16)


# -- configuration and input errors --------------------------------------------------------------


def test_from_config_days_and_holidays() -> None:
    assert set(CRMONLINE.hours) == {5, 6, 0, 1, 2}  # sat-wed wraps around the week
    assert CRMONLINE.hours[5] == ((time(8), time(16)),)
    assert NIGHTS.hours[0] == ((time(18), time(0)),)  # "00:00" as an end is midnight
    assert NIGHTS.hours[4] == ((time(20), time(0)),)  # and so is "24:00"
    touching = Calendar.from_config(
        timezone="UTC", hours={"mon": ["08:00-12:00", "12:00-16:00"]}, country=None
    )
    assert touching.hours[0] == ((time(8), time(16)),)  # touching intervals merge
    assert date(2026, 12, 24) in SERWISANT.holidays
    assert date(2026, 4, 6) in SERWISANT.holidays
    # martial law: no Ukrainian public holidays off from 2023
    assert date(2026, 1, 1) not in CLEVERBOX.holidays
    assert date(2026, 5, 1) not in CLEVERBOX.holidays
    custom = Calendar.from_config(
        timezone="Europe/Warsaw",
        hours={"mon-fri": "09:00-16:00"},
        country="pl",
        add=[date(2026, 11, 10)],
        remove=[date(2026, 12, 24), date(2026, 12, 23)],  # 23rd is no holiday: ignored
    )
    assert date(2026, 11, 10) in custom.holidays
    assert date(2026, 12, 24) not in custom.holidays
    # no range of years is frozen: later years are computed when first asked about
    assert date(2031, 1, 1) in custom.holidays and date(2031, 11, 11) in custom.holidays
    assert date(2031, 11, 12) not in custom.holidays
    assert custom == Calendar.from_config(
        timezone="Europe/Warsaw",
        hours={"mon-fri": ["09:00-16:00"]},
        country="PL",
        add=[date(2026, 11, 10)],
        remove=[date(2026, 12, 24)],
    )
    assert hash(custom) == hash(custom)
    assert "holidays=" in repr(custom)
    assert "monday" not in repr(custom)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Europe/Nowhere"}, "timezone: unknown time zone 'Europe/Nowhere'"),
        ({"hours": {"mon-fx": "09:00-16:00"}}, "unknown day 'fx'"),
        ({"hours": {"mon": "9-16"}}, "'9' is not a time like 09:00"),
        ({"hours": {"mon": "09:00-25:00"}}, "'25:00' is not a time of day"),
        ({"hours": {"mon": "16:00-09:00"}}, "ends before it starts"),
        ({"hours": {"mon": "09:00"}}, "is not an interval"),
        ({"hours": {"mon": []}}, 'give "HH:MM-HH:MM"'),
        ({"hours": {"mon-fri": "09:00-12:00", "mon": "11:00-13:00"}}, "overlap"),
        ({"hours": None}, "hours: give working hours"),
        ({"country": "XX"}, "country: 'XX' is not a country"),
        ({"subdivision": "99"}, "subdivision: PL has no subdivision '99'"),
        ({"country": None, "subdivision": "14"}, "without a country"),
        ({"add": [datetime(2026, 1, 2, tzinfo=UTC)]}, "add: "),
    ],
)
def test_from_config_errors(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "timezone": "Europe/Warsaw",
        "hours": {"mon-fri": "09:00-16:00"},
        "country": "PL",
    }
    with pytest.raises(ValueError) as info:
        Calendar.from_config(**(base | kwargs))  # type: ignore[arg-type]
    assert message in str(info.value)


def test_inputs_must_be_aware_and_durations_non_negative() -> None:
    naive = datetime(2026, 11, 16, 10)
    calls: list[Callable[[], object]] = [
        lambda: SERWISANT.is_working(naive),
        lambda: SERWISANT.next_working_moment(naive),
        lambda: SERWISANT.add(naive, H),
        lambda: SERWISANT.working_time_between(naive, w(2026, 11, 17)),
        lambda: SERWISANT.working_time_between(w(2026, 11, 17), naive),
        lambda: SERWISANT.end_of_working_day(naive),
        lambda: CLOUD_247.add(naive, H),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="naive"):
            call()
    with pytest.raises(ValueError, match="negative"):
        SERWISANT.add(w(2026, 11, 16), -H)
    with pytest.raises(ValueError, match="no working hours"):
        Calendar(zone=WARSAW, hours={}, holidays=frozenset())


@pytest.mark.timeout(120)  # a hang guard, not a speed figure: benchmarks/business_time.py times it
def test_long_durations_agree_with_their_pieces() -> None:
    # 1,000 working hours span ~29 weeks; whole weeks are skipped by their totals, and the
    # skipping must land where adding the weeks one by one lands.
    starts = [w(2026, 1, 1) + timedelta(hours=7 * i + 0.5) for i in range(0, 1000, 37)]
    for t in starts:
        whole = SERWISANT.add(t, 1000 * H)
        stepwise = t
        for _ in range(10):
            stepwise = SERWISANT.add(stepwise, 100 * H)
        assert whole == stepwise
        assert SERWISANT.working_time_between(t, whole) == 1000 * H


# -- properties ------------------------------------------------------------------------------------

# Interval ends inside the March gap and the October fold, touching across the jump.
DST_EDGES = Calendar.from_config(
    timezone="Europe/Warsaw",
    hours={"sun": ["00:00-02:30", "02:45-03:15"], "sat": "23:00-24:00", "wed": "09:00-17:00"},
    country=None,
)
# Every hour of every day through hours, not `always`: the general path must agree with 24/7.
ALL_DAYS = Calendar.from_config(
    timezone="Europe/Warsaw", hours={"mon-sun": "00:00-24:00"}, country=None
)
PROPERTY_CALENDARS = [SERWISANT, CRMONLINE, SPLIT, WARSAW_247, NIGHTS, DST_EDGES, ALL_DAYS]
DST_DATES = [
    date(y, m, d)
    for y, m, d in [
        (2025, 3, 30), (2025, 10, 26), (2026, 3, 29), (2026, 10, 25),
        (2027, 3, 28), (2027, 10, 31), (2028, 3, 26), (2028, 10, 29),
        (2026, 4, 6), (2026, 12, 24), (2026, 3, 21),
    ]
]  # fmt: skip
BOUNDARY_TIMES = [
    time(0), time(1), time(2), time(2, 30), time(3), time(4), time(8), time(9), time(11, 59),
    time(12), time(13), time(16), time(17), time(18), time(20), time(23, 59, 59, 999999),
]  # fmt: skip
ZONES = [UTC, WARSAW, TEHRAN, KYIV]


@st.composite
def instants(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    if draw(st.booleans()):
        return draw(
            st.datetimes(
                min_value=datetime(2025, 1, 1),
                max_value=datetime(2028, 12, 31),
                timezones=st.sampled_from(ZONES),
            )
        )
    day = draw(
        st.one_of(st.sampled_from(DST_DATES), st.dates(date(2025, 1, 1), date(2028, 12, 31)))
    )
    clock = draw(st.sampled_from(BOUNDARY_TIMES))
    return datetime.combine(day, clock, tzinfo=zone).replace(fold=draw(st.sampled_from([0, 1])))


durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=2000 * H),
    st.integers(0, 2000 * 3600).map(lambda s: timedelta(seconds=s)),
    st.integers(0, 2000).map(lambda h: timedelta(hours=h)),
)


@st.composite
def calendar_and_instant(
    draw: st.DrawFn, calendars: list[Calendar] = PROPERTY_CALENDARS
) -> tuple[Calendar, datetime]:
    calendar = draw(st.sampled_from(calendars))
    return calendar, draw(instants(calendar.zone))


def is_working_or_end(calendar: Calendar, r: datetime) -> bool:
    # With half-open intervals an end is not working itself but the microsecond before it is.
    return calendar.is_working(r) or calendar.is_working(r - US)


PROPERTY = settings(max_examples=250, deadline=None)


@PROPERTY
@given(calendar_and_instant(), durations, durations)
def test_add_composes(ct: tuple[Calendar, datetime], a: timedelta, b: timedelta) -> None:
    calendar, t = ct
    assert calendar.add(t, a + b) == calendar.add(calendar.add(t, a), b)


@PROPERTY
@given(calendar_and_instant(), durations)
def test_add_then_between_is_identity(ct: tuple[Calendar, datetime], d: timedelta) -> None:
    calendar, t = ct
    r = calendar.add(t, d)
    assert r.tzinfo is UTC
    assert r >= t.astimezone(UTC)
    assert calendar.working_time_between(t, r) == d


@PROPERTY
@given(calendar_and_instant(), durations)
def test_add_lands_in_working_time_or_at_an_end(
    ct: tuple[Calendar, datetime], d: timedelta
) -> None:
    calendar, t = ct
    r = calendar.add(t, d)
    assert is_working_or_end(calendar, r)
    if d == timedelta(0):
        expected = (
            t.astimezone(UTC) if is_working_or_end(calendar, t) else calendar.next_working_moment(t)
        )
        assert r == expected
    else:
        # and it is the earliest such instant: no working time was left over
        assert calendar.working_time_between(t, r - US) < d


@PROPERTY
@given(calendar_and_instant(), durations, durations)
def test_add_is_monotonic(ct: tuple[Calendar, datetime], d1: timedelta, d2: timedelta) -> None:
    calendar, t = ct
    d1, d2 = min(d1, d2), max(d1, d2)
    assert calendar.add(t, d1) <= calendar.add(t, d2)


@PROPERTY
@given(calendar_and_instant())
def test_next_working_moment(ct: tuple[Calendar, datetime]) -> None:
    calendar, t = ct
    n = calendar.next_working_moment(t)
    tu = t.astimezone(UTC)  # an aware time in a DST gap or fold never equals one in another zone
    assert calendar.is_working(n)
    assert n >= tu
    assert (n == tu) == calendar.is_working(t)
    assert calendar.working_time_between(t, n) == timedelta(0)
    assert n == tu or not calendar.is_working(n - US)


@PROPERTY
@given(calendar_and_instant())
def test_end_of_working_day(ct: tuple[Calendar, datetime]) -> None:
    calendar, t = ct
    end = calendar.end_of_working_day(t)
    assert end.tzinfo is UTC
    assert end > t.astimezone(UTC)
    assert calendar.is_working(end - US)  # the end of an interval
    assert calendar.end_of_working_day(end - US) == end  # its last microsecond is the same day
    if calendar.is_working(t):  # a moment in working time: that very day's end
        assert (end - US).astimezone(calendar.zone).date() == t.astimezone(calendar.zone).date()


PLAIN_CALENDARS = [c for c in PROPERTY_CALENDARS if c is not DST_EDGES]


def reference_between(calendar: Calendar, a: datetime, b: datetime) -> timedelta:
    """Day by day with zoneinfo directly (fold=0 everywhere; the property calendars have no
    interval boundary inside a DST gap), no caching, no skipping."""
    a, b = a.astimezone(UTC), b.astimezone(UTC)  # aware arithmetic in one zone is wall-clock
    if b <= a:
        return timedelta(0)
    if calendar.always:
        return b - a
    total = timedelta(0)
    day = a.astimezone(calendar.zone).date() - timedelta(days=1)
    last = b.astimezone(calendar.zone).date() + timedelta(days=1)
    while day <= last:
        if day not in calendar.holidays:
            for start, end in calendar.hours.get(day.weekday(), ()):
                s = datetime.combine(day, start, tzinfo=calendar.zone)
                e = (
                    datetime.combine(day + timedelta(days=1), time(), tzinfo=calendar.zone)
                    if end == time(0)
                    else datetime.combine(day, end, tzinfo=calendar.zone)
                )
                overlap = min(e.astimezone(UTC), b) - max(s.astimezone(UTC), a)
                if overlap > timedelta(0):
                    total += overlap
        day += timedelta(days=1)
    return total


@settings(max_examples=200, deadline=None)
@given(
    calendar_and_instant(PLAIN_CALENDARS),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_between_matches_a_day_by_day_reference(
    ct: tuple[Calendar, datetime], span: timedelta
) -> None:
    calendar, a = ct
    b = a + span
    assert calendar.working_time_between(a, b) == reference_between(calendar, a, b)


@PROPERTY
@given(
    instants(WARSAW), durations, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))
)
def test_hours_around_the_clock_equal_always(t: datetime, d: timedelta, span: timedelta) -> None:
    assert ALL_DAYS.add(t, d) == WARSAW_247.add(t, d)
    assert ALL_DAYS.working_time_between(t, t + span) == WARSAW_247.working_time_between(
        t, t + span
    )
    assert ALL_DAYS.end_of_working_day(t) == WARSAW_247.end_of_working_day(t)


# -- calendar months (reports, availability credits, monthly quotas) ---------------------------

TEHRAN = ZoneInfo("Asia/Tehran")


@pytest.mark.parametrize(
    ("month", "first", "following"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        # Solar Hijri: Aban 1405 is 23 Oct - 21 Nov 2026; Esfand 1405 ends before Nowruz 1406
        ("1405-08", date(2026, 10, 23), date(2026, 11, 22)),
        ("1405-12", date(2027, 2, 20), date(2027, 3, 21)),
    ],
)
def test_month_bounds_are_local_midnights(month: str, first: date, following: date) -> None:
    start, end = month_bounds(month, TEHRAN)
    assert (start, end) == (
        datetime(first.year, first.month, first.day, tzinfo=TEHRAN),
        datetime(following.year, following.month, following.day, tzinfo=TEHRAN),
    )


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "november"])
def test_month_bounds_refuse_what_is_no_month(month: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        month_bounds(month, TEHRAN)


def test_month_start_counts_the_month_in_the_zone() -> None:
    # 31 Oct 22:00 UTC is already 1 November in Kyiv
    kyiv = ZoneInfo("Europe/Kyiv")
    moment = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    assert month_start(moment, kyiv) == datetime(2026, 11, 1, tzinfo=kyiv)
    assert month_start(moment, ZoneInfo("UTC")).month == 10
