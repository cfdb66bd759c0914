"""reports._display: how the report's figures are written and judged, shared by every output so
that text, CSV, chart and page show the same figure the same way (a percentage to 0.1, hours to
0.01, a week as "W45 · 2–8 Nov", a colour judged on the figure as shown)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from mailbot.business_time import month_bounds
from mailbot.reports.model import Report, Row, Week

GROUP_TITLES = {"all": "All tickets", "level": "By SLA level", "customer": "By customer"}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEK_COLUMNS = ["tickets", "met", "breached", "pending", "compliance"]
EXPLAIN = (
    "compliance = met / (met + breached), on the first-response deadline (the resolution "
    "deadline for tickets without a first-response target); pending = not answered and not "
    "yet due; median h and p90 h = first response in working hours on the ticket's calendar "
    "(p90: nearest rank)"
)

GOOD = "#2e7d32"
NEAR = "#ef8f00"
BAD = "#c62828"
NEUTRAL = "#9e9e9e"
INK = "#263238"
MUTED = "#546e7a"
NEAR_MISS_POINTS = 5.0
"""Weeks at most this many percentage points under the target are amber, further ones red."""


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def local(report: Report, t: datetime) -> datetime:
    return t.astimezone(ZoneInfo(report.timezone))


def month_name(report: Report) -> str:
    year, mon = report.month.split("-")
    return f"{MONTHS[int(mon) - 1]} {year}"


def week_days(report: Report, week: Week) -> tuple[date, date]:
    """The days of `week` that belong to the report's month."""
    start, end = month_bounds(report.month, ZoneInfo(report.timezone))
    first = max(week.start, start.date())
    last = min(week.start + timedelta(days=6), (end - timedelta(days=1)).date())
    return first, last


def week_label(report: Report, week: Week) -> str:
    """'W45 · 2–8 Nov': the ISO week and the days of the month it holds."""
    first, last = week_days(report, week)
    short = {d: MONTHS[d.month - 1][:3] for d in (first, last)}
    if first == last:
        days = f"{first.day} {short[first]}"
    elif first.month == last.month:
        days = f"{first.day}–{last.day} {short[last]}"
    else:
        days = f"{first.day} {short[first]}–{last.day} {short[last]}"
    return f"W{week.start.isocalendar().week:02d} · {days}"


def with_no_target(report: Report) -> bool:
    """Whether any ticket had no SLA target (the column is left out of text and HTML if not)."""
    return any(r.no_target for r in report.rows)


def columns(report: Report) -> list[str]:
    extra = ["no target"] if with_no_target(report) else []
    return ["tickets", "met", "breached", "pending", *extra, "compliance", "median h", "p90 h"]


def row_cells(report: Report, row: Row) -> list[str]:
    extra = [f"{row.no_target:,}"] if with_no_target(report) else []
    return [
        f"{row.tickets:,}",
        f"{row.met:,}",
        f"{row.breached:,}",
        f"{row.pending:,}",
        *extra,
        percent(row.compliance),
        hours(row.median_first_response_hours),
        hours(row.p90_first_response_hours),
    ]


def week_cells(week: Week) -> list[str]:
    return [
        f"{week.tickets:,}",
        f"{week.met:,}",
        f"{week.breached:,}",
        f"{week.pending:,}",
        percent(week.compliance),
    ]


def shade(compliance: float | None, target: float) -> str:
    """The colour of a compliance figure, judged as shown (to 0.1 %): "95.0 %" meets 95 %."""
    if compliance is None:
        return NEUTRAL
    shown, wanted = round(compliance * 100, 1), round(target * 100, 1)
    if shown >= wanted:
        return GOOD
    return NEAR if wanted - shown <= NEAR_MISS_POINTS else BAD
