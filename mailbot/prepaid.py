"""prepaid: prepaid support hours (crmonline) — balance, expiry, availability credit. Pure.

A package is valid for one Solar Hijri year from its purchase and does not carry over; the
time agents log on a customer's tickets is deducted from the package valid when the work was
done (a customer may have bought several over the years), and only on tickets that ask for a
prepaid service: free support is free. The availability promise is a
share of the month the service is up; below it, the customer is credited a multiple of the
outage time. Months and dates are the customer's: Solar Hijri for Persian desks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def valid_on(package: Package, day: date) -> bool:
    """Bought on or before `day` and not yet expired on it (days in the desk's time zone)."""
    bought: date = purchased_on(package).togregorian()
    return bought <= day < expiry(package)


@dataclass(frozen=True)
class Logged:
    """One row of logged time, as the ledger needs it."""

    day: date
    """When the work was done, the desk's local day: it picks the package charged."""
    minutes: int
    charged: bool
    """False for a free-support ticket: recorded, but no package pays for it."""


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
    valid: bool
    """Valid today: bought, not yet expired."""
    logged: float
    """Of `used`, the hours charged from logged time (the rest: the desk file's used_hours)."""


@dataclass(frozen=True)
class Ledger:
    """A customer's packages, each with its own balance, and the time no package paid for."""

    packages: tuple[Balance, ...]
    """In the order the desk file lists them."""
    free_hours: float
    """Logged on free-support tickets: not charged."""
    uncovered_hours: float
    """Charged work done when no package was valid, or beyond the valid ones' balance: an
    agent's matter (an invoice, a package bought late), never taken from a later package."""

    @property
    def valid(self) -> tuple[Balance, ...]:
        return tuple(b for b in self.packages if b.valid)

    @property
    def charged_to_valid(self) -> float:
        """Hours charged to the packages valid today (what `History.hours_logged` carries)."""
        return sum(b.logged for b in self.valid)


def ledger(packages: Sequence[Package], logged: Iterable[Logged], today: date) -> Ledger:
    """Charge each piece of work to the package valid on the day it was done.

    Packages do not carry over (Packages §6): hours used under an expired package never
    reduce a newer one, and a new package's hours never pay for work done before it was
    bought. Where two packages are valid on the same day (a new one bought before the old
    expired), the one expiring first is used up first: its hours would be lost soonest.
    `used_hours` written in the desk file counts as used on its own package.
    """
    minutes_left = [p.hours * 60 - p.used_hours * 60 for p in packages]
    used = [p.used_hours * 60 for p in packages]
    free = uncovered = 0.0
    by_expiry = sorted(range(len(packages)), key=lambda i: (expiry(packages[i]), i))
    for row in logged:
        if not row.charged:
            free += row.minutes
            continue
        due = float(row.minutes)
        for i in by_expiry:
            if due <= 0:
                break
            if not valid_on(packages[i], row.day) or minutes_left[i] <= 0:
                continue
            taken = min(due, minutes_left[i])
            minutes_left[i] -= taken
            used[i] += taken
            due -= taken
        uncovered += due
    balances = []
    for i, package in enumerate(packages):
        ends = expiry(package)
        balances.append(
            Balance(
                hours=package.hours,
                used=used[i] / 60,
                left=max(minutes_left[i], 0.0) / 60,
                purchased=purchased_on(package).togregorian(),
                purchased_solar=package.purchased,
                expires=ends,
                expires_solar=jdatetime.date.fromgregorian(date=ends).strftime("%Y-%m-%d"),
                expired=today >= ends,
                valid=valid_on(package, today),
                logged=used[i] / 60 - package.used_hours,
            )
        )
    return Ledger(tuple(balances), free / 60, uncovered / 60)


def left_now(packages: Sequence[Package], charged_to_valid: float, today: date) -> str | None:
    """Why a package service cannot be given today ("no_package", "package_expired",
    "no_balance"), None when a valid package has hours left. `charged_to_valid`: hours
    charged to the packages valid today (`Ledger.charged_to_valid`)."""
    if not packages:
        return "no_package"
    valid = [p for p in packages if valid_on(p, today)]
    if not valid:
        return "package_expired" if any(expiry(p) <= today for p in packages) else "no_package"
    if sum(p.hours - p.used_hours for p in valid) - charged_to_valid <= 1e-9:
        return "no_balance"
    return None


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
