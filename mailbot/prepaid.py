"""prepaid: prepaid support hours (crmonline) — balance, expiry, availability credit. Pure.

A package is valid for one Solar Hijri year from its purchase and does not carry over; the
time agents log on a customer's tickets is deducted from it. The availability promise is a
share of the month the service is up; below it, the customer is credited a multiple of the
outage time. Months and dates are the customer's: Solar Hijri for Persian desks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import jdatetime

from mailbot.business_time import month_bounds
from mailbot.config import Package


def purchased_on(package: Package) -> jdatetime.date:
    try:
        year, month, day = (int(part) for part in package.purchased.split("-"))
        return jdatetime.date(year, month, day)
    except ValueError as exc:
        raise ValueError(
            f"package purchased {package.purchased!r} is not a Solar Hijri date (YYYY-MM-DD, "
            "e.g. 1405-01-15); correct it in the desk file"
        ) from exc


def expiry(package: Package) -> date:
    """The first (Gregorian) day the package is no longer valid: one Solar Hijri year on."""
    bought = purchased_on(package)
    try:
        later = jdatetime.date(bought.year + 1, bought.month, bought.day)
    except ValueError:  # Esfand 30 of a leap year: a year later, the month's last day
        later = jdatetime.date(bought.year + 1, bought.month, 29)
    gregorian: date = later.togregorian()
    return gregorian


@dataclass(frozen=True)
class Balance:
    hours: float
    used: float
    left: float
    purchased: date
    purchased_solar: str
    expires: date
    expires_solar: str
    expired: bool


def balance(package: Package, logged_hours: float, today: date) -> Balance:
    ends = expiry(package)
    used = package.used_hours + logged_hours
    return Balance(
        hours=package.hours,
        used=used,
        left=max(package.hours - used, 0.0),
        purchased=purchased_on(package).togregorian(),
        purchased_solar=package.purchased,
        expires=ends,
        expires_solar=jdatetime.date.fromgregorian(date=ends).strftime("%Y-%m-%d"),
        expired=today >= ends,
    )


@dataclass(frozen=True)
class Availability:
    month: str
    start: datetime
    end: datetime
    outage: timedelta
    availability: float
    target: float
    credit: timedelta


def availability(
    month: str,
    zone: ZoneInfo,
    outages: Iterable[tuple[datetime, datetime]],
    target: float = 0.98,
    credit_factor: float = 3.0,
) -> Availability:
    """Overlapping outages count once; only their part inside the month counts."""
    start, end = month_bounds(month, zone)
    spans = sorted((max(a, start), min(b, end)) for a, b in outages if b > start and a < end)
    down = timedelta(0)
    cursor = start
    for a, b in spans:
        a = max(a, cursor)
        if b > a:
            down += b - a
            cursor = b
    share = 1 - down / (end - start)
    credit = down * credit_factor if share < target else timedelta(0)
    return Availability(month, start, end, down, share, target, credit)
