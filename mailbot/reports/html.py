"""reports.html: the report as one self-contained HTML page (headline figures, the weekly chart,
the tables; no script, no URL), rendered from `templates/report.html.j2` with autoescaping on.

Every text that comes from data (desk, customer and level names, labels) is escaped by the
template; the one thing marked safe is the chart's SVG, which `chart_svg` drew itself and whose
texts matplotlib escaped when it wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from mailbot.reports import _display as show
from mailbot.reports.chart import CHARTS_EXTRA, ChartUnavailable, chart_svg
from mailbot.reports.model import DEFAULT_TARGET, Report, Row

CHART_NOT_DRAWN = (
    f"Chart not drawn: install {CHARTS_EXTRA} (matplotlib) to see the weekly compliance chart."
)


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""


@dataclass(frozen=True)
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    foot: list[Cell]


@dataclass(frozen=True)
class Kpi:
    value: str
    label: str
    css: str = ""


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("mailbot.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _judged(value: float | None, target: float) -> str:
    """The CSS class of a compliance figure: good, near or bad ("" when there is none)."""
    return {show.GOOD: "good", show.NEAR: "near", show.BAD: "bad"}.get(
        show.shade(value, target), ""
    )


def _row(report: Report, row: Row, target: float, key: str | None = None) -> list[Cell]:
    cells = show.row_cells(report, row)
    at = len(cells) - 3  # compliance, then the two hour figures
    return [
        Cell(row.key if key is None else key),
        *(Cell(c) for c in cells[:at]),
        Cell(cells[at], _judged(row.compliance, target)),
        *(Cell(c) for c in cells[at + 1 :]),
    ]


def _tables(report: Report, target: float) -> list[Table]:
    columns = show.columns(report)
    tables = []
    for group in ("level", "customer"):
        rows = [r for r in report.rows if r.group == group]
        if rows:
            tables.append(
                Table(
                    show.GROUP_TITLES[group],
                    [group, *columns],
                    [_row(report, r, target) for r in rows],
                    _row(report, report.total, target, key="all tickets"),
                )
            )
    weeks = [
        [
            Cell(show.week_label(report, w)),
            Cell(w.start.isoformat()),
            *(Cell(c) for c in show.week_cells(w)[:-1]),
            Cell(show.percent(w.compliance), _judged(w.compliance, target)),
        ]
        for w in report.weekly
    ]
    tables.append(
        Table(
            "Per ISO week (by the day received)",
            ["ISO week · days of the month", "week starts", *show.WEEK_COLUMNS],
            weeks,
            [],
        )
    )
    return tables


def _inline(svg: str) -> str:
    """The SVG for inline use in HTML, whose parser knows the SVG and XLink namespaces itself:
    without the namespace declarations the page names no URL at all."""
    head, sep, rest = svg.partition(">")
    head = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", head)
    return head + sep + rest


def _chart(report: Report, target: float) -> Markup | None:
    """The chart, trusted as markup because we drew it; None without matplotlib."""
    try:
        return Markup(_inline(chart_svg(report, target).strip()))
    except ChartUnavailable:
        return None


def as_html(report: Report, *, target: float = DEFAULT_TARGET) -> str:
    """One self-contained HTML page (no script, no external resource): figures, chart, tables.

    `target` is the compliance the chart's line and the colours judge against (0..1).
    """
    if not 0 < target <= 1:
        raise ValueError(f"target is a fraction in (0, 1], not {target}")
    total = report.total
    kpis = [
        Kpi(
            show.percent(total.compliance),
            "first responses on time",
            _judged(total.compliance, target),
        ),
        Kpi(f"{total.tickets:,}", "tickets received"),
        Kpi(f"{total.breached:,}", "breached", "bad" if total.breached else ""),
        Kpi(f"{total.pending:,}", "pending (not yet due)"),
        Kpi(show.hours(total.median_first_response_hours), "median response, working h"),
        Kpi(show.hours(total.p90_first_response_hours), "p90 response, working h"),
    ]
    note = (
        f"{show.EXPLAIN[0].upper()}{show.EXPLAIN[1:]}. Tickets whose clock waited for the "
        "customer count the working time it ran, where the ticket still shows it."
    )
    page = _templates().get_template("report.html.j2")
    return page.render(
        title=report.display_name,
        desk=report.desk,
        month=show.month_name(report),
        timezone=report.timezone,
        generated=f"{show.local(report, report.generated_at):%Y-%m-%d %H:%M}",
        target=f"{target * 100:g}",
        kpis=kpis,
        chart=_chart(report, target),
        chart_missing=CHART_NOT_DRAWN,
        tables=_tables(report, target),
        note=note,
    )
