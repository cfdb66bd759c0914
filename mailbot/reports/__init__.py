"""reports: the monthly SLA report of a desk — per level and per customer, plus a weekly trend.

`model` builds the `Report` (and says exactly what is counted); `formats` writes it as text,
JSON and CSV; `chart` draws the weekly compliance chart as SVG (matplotlib, the optional
`mailbot[charts]` extra); `html` renders one self-contained page from a Jinja2 template.
"""

from __future__ import annotations

from mailbot.business_time import month_bounds
from mailbot.reports._display import NEAR_MISS_POINTS
from mailbot.reports.chart import ChartUnavailable, chart_svg
from mailbot.reports.formats import CSV_FIELDS, as_csv, as_json, as_text
from mailbot.reports.html import CHART_NOT_DRAWN, as_html
from mailbot.reports.model import (
    DEFAULT_TARGET,
    NO_CUSTOMER,
    NO_LEVEL,
    Report,
    Row,
    Week,
    build,
    nearest_rank,
)

__all__ = [
    "CHART_NOT_DRAWN",
    "CSV_FIELDS",
    "DEFAULT_TARGET",
    "NEAR_MISS_POINTS",
    "NO_CUSTOMER",
    "NO_LEVEL",
    "ChartUnavailable",
    "Report",
    "Row",
    "Week",
    "as_csv",
    "as_html",
    "as_json",
    "as_text",
    "build",
    "chart_svg",
    "month_bounds",
    "nearest_rank",
]
