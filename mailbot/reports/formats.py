"""reports.formats: the report for a terminal (`as_text`, tabulate tables), for programs
(`as_json`: compliance as a fraction to 4 places, times ISO 8601 in the desk's offset) and for
spreadsheets (`as_csv`: one flat table, the rows, then a `week` row per ISO week)."""

from __future__ import annotations

import csv
import io
import textwrap
from typing import Any

from mailbot.reports import _display as show
from mailbot.reports.model import Report, Row

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


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def as_text(report: Report) -> str:
    """A readable table per group and a weekly table, for the terminal."""
    from tabulate import tabulate

    generated = show.local(report, report.generated_at)
    lines = [
        f"SLA report: {report.display_name} ({report.desk}), {show.month_name(report)}",
        f"times in {report.timezone}; generated {generated:%Y-%m-%d %H:%M}",
        "",
    ]
    columns = show.columns(report)
    for group in ("all", "level", "customer"):
        rows = [r for r in report.rows if r.group == group]
        if not rows:
            continue
        lines.append(show.GROUP_TITLES[group])
        lines.append(
            tabulate(
                [[r.key, *show.row_cells(report, r)] for r in rows],
                headers=[group if group != "all" else "", *columns],
                colalign=("left", *("right",) * len(columns)),
                disable_numparse=True,
            )
        )
        lines.append("")
    lines.append("Per ISO week (by the day received)")
    lines.append(
        tabulate(
            [[show.week_label(report, w), *show.week_cells(w)] for w in report.weekly],
            headers=["week", *show.WEEK_COLUMNS],
            colalign=("left", *("right",) * len(show.WEEK_COLUMNS)),
            disable_numparse=True,
        )
    )
    lines += ["", *textwrap.wrap(show.EXPLAIN + ".", 100)]
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
        "generated_at": show.local(report, report.generated_at).isoformat(),
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
