"""reports: the monthly SLA report of a desk — per level and per customer, plus a weekly trend.

`build(db, desk, month, now)` reads the month's tickets through `store.reading` and is
otherwise pure; `as_text`, `as_json`, `as_csv` and `as_html` render the same `Report`.

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
  (`json.loads(sla_clock)["calendar"]`); tickets without an SLA clock (or whose calendar is no
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

The outputs: `as_text` (tabulate tables), `as_json` (compliance as a fraction to 4 places,
times ISO 8601 in the desk's offset), `as_csv` (one flat table: the rows, then a `week` row
per ISO week), `as_html` (one self-contained page: headline figures, the chart, the tables; no
script, no URL). The chart (`chart_svg`, `chart_png`) is drawn with matplotlib, imported only
there: compliance per ISO week as bars against a dashed target line (`target=`, default 95 %),
green at or above it, amber up to 5 points below, red further below, judged on the figure as
shown to 0.1 %.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from mailbot import deadlines
from mailbot.business_time import Calendar, month_bounds
from mailbot.config import DeskSettings
from mailbot.store import Database, Ticket

__all__ = [
    "DEFAULT_TARGET",
    "Report",
    "Row",
    "Week",
    "as_csv",
    "as_html",
    "as_json",
    "as_text",
    "build",
    "nearest_rank",
]

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


# -- building -----------------------------------------------------------------------------------


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
            kind = (
                _FIRST
                if data.get("first_response") is not None
                else _RESOLUTION
                if data.get("resolution") is not None
                else None
            )
            known = clocks[key] = (kind, cals.get(str(data.get("calendar"))))
        return known

    query = (
        select(
            col(Ticket.sla_level),
            col(Ticket.customer),
            col(Ticket.received_at),
            col(Ticket.first_response_due),
            col(Ticket.resolution_due),
            col(Ticket.first_responded_at),
            col(Ticket.solved_at),
            col(Ticket.sla_clock),
            col(Ticket.sla_running_since),
            col(Ticket.sla_used_seconds),
        )
        .where(col(Ticket.desk) == desk.name)
        .where(col(Ticket.received_at) >= start.astimezone(UTC))
        .where(col(Ticket.received_at) < end.astimezone(UTC))
    )
    total = _Tally()
    levels: defaultdict[str, _Tally] = defaultdict(_Tally)
    customers: defaultdict[str, _Tally] = defaultdict(_Tally)
    weeks: defaultdict[date, _Tally] = defaultdict(_Tally)
    with db.reading() as session:
        result = session.connection().execute(query)
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
        ) in result:
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


# -- rendering ----------------------------------------------------------------------------------

_GROUP_TITLES = {"all": "All tickets", "level": "By SLA level", "customer": "By customer"}
_MONTHS = [
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


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _local(report: Report, t: datetime) -> datetime:
    return t.astimezone(ZoneInfo(report.timezone))


def _month_name(report: Report) -> str:
    year, mon = report.month.split("-")
    return f"{_MONTHS[int(mon) - 1]} {year}"


def _week_days(report: Report, week: Week) -> tuple[date, date]:
    """The days of `week` that belong to the report's month."""
    start, end = month_bounds(report.month, ZoneInfo(report.timezone))
    first = max(week.start, start.date())
    last = min(week.start + timedelta(days=6), (end - timedelta(days=1)).date())
    return first, last


def _week_label(report: Report, week: Week) -> str:
    """'W45 · 2–8 Nov': the ISO week and the days of the month it holds."""
    first, last = _week_days(report, week)
    short = {d: _MONTHS[d.month - 1][:3] for d in (first, last)}
    if first == last:
        days = f"{first.day} {short[first]}"
    elif first.month == last.month:
        days = f"{first.day}–{last.day} {short[last]}"
    else:
        days = f"{first.day} {short[first]}–{last.day} {short[last]}"
    return f"W{week.start.isocalendar().week:02d} · {days}"


def _with_no_target(report: Report) -> bool:
    """Whether any ticket had no SLA target (the column is left out of text and HTML if not)."""
    return any(r.no_target for r in report.rows)


def _columns(report: Report) -> list[str]:
    extra = ["no target"] if _with_no_target(report) else []
    return ["tickets", "met", "breached", "pending", *extra, "compliance", "median h", "p90 h"]


def _row_cells(report: Report, row: Row) -> list[str]:
    extra = [f"{row.no_target:,}"] if _with_no_target(report) else []
    return [
        f"{row.tickets:,}",
        f"{row.met:,}",
        f"{row.breached:,}",
        f"{row.pending:,}",
        *extra,
        _percent(row.compliance),
        _hours(row.median_first_response_hours),
        _hours(row.p90_first_response_hours),
    ]


_WEEK_COLUMNS = ["tickets", "met", "breached", "pending", "compliance"]


def _week_cells(week: Week) -> list[str]:
    return [
        f"{week.tickets:,}",
        f"{week.met:,}",
        f"{week.breached:,}",
        f"{week.pending:,}",
        _percent(week.compliance),
    ]


_EXPLAIN = (
    "compliance = met / (met + breached), on the first-response deadline (the resolution "
    "deadline for tickets without a first-response target); pending = not answered and not "
    "yet due; median h and p90 h = first response in working hours on the ticket's calendar "
    "(p90: nearest rank)"
)


def as_text(report: Report) -> str:
    """A readable table per group and a weekly table, for the terminal."""
    from tabulate import tabulate

    generated = _local(report, report.generated_at)
    lines = [
        f"SLA report: {report.display_name} ({report.desk}), {_month_name(report)}",
        f"times in {report.timezone}; generated {generated:%Y-%m-%d %H:%M}",
        "",
    ]
    columns = _columns(report)
    for group in ("all", "level", "customer"):
        rows = [r for r in report.rows if r.group == group]
        if not rows:
            continue
        lines.append(_GROUP_TITLES[group])
        lines.append(
            tabulate(
                [[r.key, *_row_cells(report, r)] for r in rows],
                headers=[group if group != "all" else "", *columns],
                colalign=("left", *("right",) * len(columns)),
                disable_numparse=True,
            )
        )
        lines.append("")
    lines.append("Per ISO week (by the day received)")
    lines.append(
        tabulate(
            [[_week_label(report, w), *_week_cells(w)] for w in report.weekly],
            headers=["week", *_WEEK_COLUMNS],
            colalign=("left", *("right",) * len(_WEEK_COLUMNS)),
            disable_numparse=True,
        )
    )
    lines += ["", *textwrap.wrap(_EXPLAIN + ".", 100)]
    return "\n".join(lines) + "\n"


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "group": row.group,
        "key": row.key,
        "tickets": row.tickets,
        "met": row.met,
        "breached": row.breached,
        "pending": row.pending,
        "no_target": row.no_target,
        "compliance": _ratio(row.compliance),
        "median_first_response_hours": row.median_first_response_hours,
        "p90_first_response_hours": row.p90_first_response_hours,
    }


def as_json(report: Report) -> dict[str, Any]:
    """The report as JSON-able data (compliance as a fraction rounded to 4 places)."""
    return {
        "desk": report.desk,
        "title": report.display_name,
        "month": report.month,
        "timezone": report.timezone,
        "generated_at": _local(report, report.generated_at).isoformat(),
        "rows": [_row_json(r) for r in report.rows],
        "weekly": [
            {
                "week_start": w.start.isoformat(),
                "iso_week": w.start.isocalendar().week,
                "tickets": w.tickets,
                "met": w.met,
                "breached": w.breached,
                "pending": w.pending,
                "compliance": _ratio(w.compliance),
            }
            for w in report.weekly
        ],
    }


CSV_FIELDS = (
    "group",
    "key",
    "tickets",
    "met",
    "breached",
    "pending",
    "no_target",
    "compliance",
    "median_first_response_hours",
    "p90_first_response_hours",
)


def as_csv(report: Report) -> str:
    """One flat table: the report's rows, then one row per week (group `week`, key its Monday).

    Empty cells stand for "none" (no compliance yet, no first response); weeks carry no hours.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({k: "" if v is None else v for k, v in _row_json(row).items()})
    for w in report.weekly:
        writer.writerow(
            {
                "group": "week",
                "key": w.start.isoformat(),
                "tickets": w.tickets,
                "met": w.met,
                "breached": w.breached,
                "pending": w.pending,
                "no_target": w.tickets - w.met - w.breached - w.pending,
                "compliance": "" if w.compliance is None else _ratio(w.compliance),
                "median_first_response_hours": "",
                "p90_first_response_hours": "",
            }
        )
    return out.getvalue()


# -- HTML with a chart ----------------------------------------------------------------------------

_GOOD = "#2e7d32"
_NEAR = "#ef8f00"
_BAD = "#c62828"
_NEUTRAL = "#9e9e9e"
_INK = "#263238"
_MUTED = "#546e7a"
NEAR_MISS_POINTS = 5.0
"""Weeks at most this many percentage points under the target are amber, further ones red."""


def _shade(compliance: float | None, target: float) -> str:
    """The colour of a compliance figure, judged as shown (to 0.1 %): "95.0 %" meets 95 %."""
    if compliance is None:
        return _NEUTRAL
    shown, wanted = round(compliance * 100, 1), round(target * 100, 1)
    if shown >= wanted:
        return _GOOD
    return _NEAR if wanted - shown <= NEAR_MISS_POINTS else _BAD


def chart_svg(report: Report, target: float = DEFAULT_TARGET) -> str:
    """Compliance per ISO week as bars with the target line: an inline <svg> element."""
    return _chart(report, target, "svg").decode()


def chart_png(report: Report, target: float = DEFAULT_TARGET, dpi: int = 110) -> bytes:
    """The same chart as PNG bytes (to look at it, or to mail it)."""
    return _chart(report, target, "png", dpi)


def _chart(report: Report, target: float, fmt: str, dpi: int = 100) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    weeks = report.weekly
    labels = [
        _week_label(report, w).replace(" · ", "\n")
        + f"\n{w.tickets:,} ticket{'' if w.tickets == 1 else 's'}"
        for w in weeks
    ]
    values = [0.0 if w.compliance is None else w.compliance * 100 for w in weeks]
    colours = [_shade(w.compliance, target) for w in weeks]
    total = report.total
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",  # text stays text: crisp, searchable, any script the reader has
            "svg.hashsalt": "mailbot-report",  # stable element ids: the same report, the same file
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial", "Liberation Sans"],
            "font.size": 11,
        }
    ):
        fig = Figure(figsize=(9.6, 5.0), layout="constrained")
        ax = fig.add_subplot()
        xs = list(range(len(weeks)))
        bars = ax.bar(xs, values, width=0.74, color=colours, zorder=2)
        ax.axhline(target * 100, color=_INK, linestyle=(0, (6, 4)), linewidth=1.3, zorder=3)
        for x, bar, week in zip(xs, bars, weeks, strict=True):
            if week.compliance is None:
                note = "no tickets" if week.tickets == 0 else "nothing due yet"
                ax.text(x, 2, note, ha="center", va="bottom", fontsize=9.5, color=_MUTED)
                continue
            height = bar.get_height()
            judged = week.met + week.breached
            share = "100 %" if week.met == judged else f"{week.compliance * 100:.1f} %"
            count = f"{week.met:,} of {judged:,}"
            if height >= 22:  # both labels inside the bar, on its colour (over the target line)
                box = {"facecolor": bar.get_facecolor(), "edgecolor": "none", "pad": 1.5}
                ax.text(
                    x,
                    height - 3,
                    share,
                    ha="center",
                    va="top",
                    fontsize=14,
                    fontweight="bold",
                    color="white",
                    bbox=box,
                    zorder=4,
                )
                ax.text(
                    x,
                    height - 12,
                    count,
                    ha="center",
                    va="top",
                    fontsize=8.5,
                    color="white",
                    bbox=box,
                    zorder=4,
                )
            else:  # a short bar: the count just above it, the share above the count
                ax.text(
                    x,
                    height + 1.5,
                    count,
                    ha="center",
                    va="bottom",
                    fontsize=9,
                    color=_MUTED,
                    zorder=4,
                )
                ax.text(
                    x,
                    height + 7,
                    share,
                    ha="center",
                    va="bottom",
                    fontsize=14,
                    fontweight="bold",
                    color=_INK,
                    zorder=4,
                )
        ax.set_xticks(xs, labels)
        ax.tick_params(axis="x", length=0, pad=6, labelsize=10)
        ax.set_ylim(0, 100)
        ax.set_xlim(-0.55, len(weeks) - 0.45)
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        ax.tick_params(axis="y", length=0, labelcolor=_MUTED)
        ax.set_ylabel("answered on time", color=_MUTED)
        ax.grid(axis="y", color="#e6e9eb", linewidth=0.8, zorder=0)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(
            f"{report.display_name}: first responses on time, per week — {_month_name(report)}",
            loc="left",
            fontsize=14.5,
            fontweight="bold",
            color=_INK,
            pad=30,
        )
        ax.annotate(
            f"Month: {_percent(total.compliance)} on time  ·  {total.tickets:,} tickets  ·  "
            f"{total.breached:,} breached  ·  {total.pending:,} not yet due",
            xy=(0, 1),
            xycoords="axes fraction",
            xytext=(0, 10),
            textcoords="offset points",
            fontsize=10.5,
            color=_MUTED,
        )
        fig.legend(
            handles=[
                Patch(color=_GOOD, label="at or above target"),
                Patch(color=_NEAR, label=f"up to {NEAR_MISS_POINTS:g} points below"),
                Patch(color=_BAD, label="further below"),
                Line2D(
                    [],
                    [],
                    color=_INK,
                    linestyle=(0, (6, 4)),
                    linewidth=1.3,
                    label=f"target {target * 100:g} %",
                ),
            ],
            loc="outside lower center",
            ncols=4,
            frameon=False,
            fontsize=9.5,
        )
        out = io.BytesIO()
        fig.savefig(
            out,
            format=fmt,
            dpi=dpi,
            metadata={"Date": None} if fmt == "svg" else None,
        )
    data = out.getvalue()
    if fmt == "svg":  # keep the <svg> element only: no XML declaration, DOCTYPE or metadata
        text = data.decode()
        text = text[text.index("<svg") :]
        text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
        data = text.encode()
    return data


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
color:#263238;margin:2rem auto;max-width:1040px;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.sub{color:#546e7a;margin:0 0 1.2rem}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:.8rem;
margin:1rem 0 1.5rem}
.kpi{border:1px solid #e0e0e0;border-radius:8px;padding:.7rem .9rem}
.kpi .v{font-size:1.6rem;font-weight:700}.kpi .l{color:#607d8b;font-size:.85rem}
.good{color:#2e7d32}.near{color:#c77700}.bad{color:#c62828}
.chart{margin:0}.chart svg{width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid #eceff1;text-align:right;white-space:nowrap}
th{background:#f5f7f8;font-weight:600}th:first-child,td:first-child{text-align:left;
white-space:normal}
tfoot td{font-weight:700;border-top:2px solid #cfd8dc}
td.good,td.near,td.bad{font-weight:700}
.note{color:#607d8b;font-size:.85rem;margin-top:2rem}
@media print{body{margin:0}.kpi,figure{break-inside:avoid}}
"""


def _html_table(
    headers: Iterable[str], rows: Iterable[Iterable[str]], foot: Iterable[str] = ()
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    footer = "".join(foot)
    tfoot = f"<tfoot><tr>{footer}</tr></tfoot>" if footer else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tfoot}</table>"


def _td(value: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<td{cls}>{escape(str(value))}</td>"


def _judged(value: float | None, target: float) -> str:
    shade = _shade(value, target)
    return {_GOOD: "good", _NEAR: "near", _BAD: "bad"}.get(shade, "")


def _html_row(report: Report, row: Row, target: float, key: str | None = None) -> list[str]:
    cells = _row_cells(report, row)
    at = len(cells) - 3  # compliance, then the two hour figures
    return [
        _td(row.key if key is None else key),
        *(_td(c) for c in cells[:at]),
        _td(cells[at], _judged(row.compliance, target)),
        *(_td(c) for c in cells[at + 1 :]),
    ]


def _inline(svg: str) -> str:
    """The SVG for inline use in HTML, whose parser knows the SVG and XLink namespaces itself:
    without the namespace declarations the page names no URL at all."""
    head, sep, rest = svg.partition(">")
    head = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", head)
    return head + sep + rest


def as_html(report: Report, *, target: float = DEFAULT_TARGET) -> str:
    """One self-contained HTML page (no script, no external resource): figures, chart, tables.

    `target` is the compliance the chart's line and the colours judge against (0..1).
    """
    if not 0 < target <= 1:
        raise ValueError(f"target is a fraction in (0, 1], not {target}")
    total = report.total
    generated = _local(report, report.generated_at)
    month = _month_name(report)
    kpis = [
        (_percent(total.compliance), "first responses on time", _judged(total.compliance, target)),
        (f"{total.tickets:,}", "tickets received", ""),
        (f"{total.breached:,}", "breached", "bad" if total.breached else ""),
        (f"{total.pending:,}", "pending (not yet due)", ""),
        (_hours(total.median_first_response_hours), "median response, working h", ""),
        (_hours(total.p90_first_response_hours), "p90 response, working h", ""),
    ]
    kpi_html = "".join(
        f'<div class="kpi"><div class="v {css}">{escape(v)}</div>'
        f'<div class="l">{escape(label)}</div></div>'
        for v, label, css in kpis
    )
    columns = _columns(report)
    sections = []
    for group in ("level", "customer"):
        rows = [r for r in report.rows if r.group == group]
        if not rows:
            continue
        table = _html_table(
            [group, *columns],
            (_html_row(report, r, target) for r in rows),
            _html_row(report, total, target, key="all tickets"),
        )
        sections.append(f"<h2>{escape(_GROUP_TITLES[group])}</h2>{table}")
    weeks = _html_table(
        ["ISO week · days of the month", "week starts", *_WEEK_COLUMNS],
        (
            [
                _td(_week_label(report, w)),
                _td(w.start.isoformat()),
                *(_td(c) for c in _week_cells(w)[:-1]),
                _td(_percent(w.compliance), _judged(w.compliance, target)),
            ]
            for w in report.weekly
        ),
    )
    sections.append(f"<h2>Per ISO week (by the day received)</h2>{weeks}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(f'SLA report: {report.display_name}, {month}')}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{escape(report.display_name)}: SLA report, {escape(month)}</h1>"
        f'<p class="sub">Desk <b>{escape(report.desk)}</b> · times in {escape(report.timezone)}'
        f" · generated {generated:%Y-%m-%d %H:%M} · target: {target * 100:g} % on time</p>"
        f'<div class="kpis">{kpi_html}</div>'
        f'<figure class="chart">{_inline(chart_svg(report, target))}</figure>'
        + "".join(sections)
        + f'<p class="note">{escape(_EXPLAIN[0].upper() + _EXPLAIN[1:])}. Tickets whose clock '
        "waited for the customer count the working time it ran, where the ticket still shows "
        "it.</p></body></html>\n"
    )
