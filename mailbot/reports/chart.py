"""reports.chart: compliance per ISO week as bars against a dashed target line (`target=`,
default 95 %), green at or above it, amber up to 5 points below, red further below, judged on the
figure as shown to 0.1 %. Drawn with matplotlib, an optional extra (`mailbot[charts]`) imported
only when a chart is drawn: without it `chart_svg` raises `ChartUnavailable` and the page says so.
"""

from __future__ import annotations

import io
import re

from mailbot.reports import _display as show
from mailbot.reports.model import DEFAULT_TARGET, Report

CHARTS_EXTRA = "mailbot[charts]"


class ChartUnavailable(ImportError):
    """matplotlib is not installed: the report is complete, only its chart cannot be drawn."""


def chart_svg(report: Report, target: float = DEFAULT_TARGET) -> str:
    """Compliance per ISO week as bars with the target line: an inline <svg> element."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        from matplotlib.ticker import PercentFormatter
    except ImportError as exc:
        raise ChartUnavailable(
            f"the chart needs matplotlib: pip install '{CHARTS_EXTRA}'", name="matplotlib"
        ) from exc

    weeks = report.weekly
    labels = [
        show.week_label(report, w).replace(" · ", "\n")
        + f"\n{w.tickets:,} ticket{'' if w.tickets == 1 else 's'}"
        for w in weeks
    ]
    values = [0.0 if w.compliance is None else w.compliance * 100 for w in weeks]
    colours = [show.shade(w.compliance, target) for w in weeks]
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
        ax.axhline(target * 100, color=show.INK, linestyle=(0, (6, 4)), linewidth=1.3, zorder=3)
        for x, bar, week in zip(xs, bars, weeks, strict=True):
            if week.compliance is None:
                note = "no tickets" if week.tickets == 0 else "nothing due yet"
                ax.text(x, 2, note, ha="center", va="bottom", fontsize=9.5, color=show.MUTED)
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
                    color=show.MUTED,
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
                    color=show.INK,
                    zorder=4,
                )
        ax.set_xticks(xs, labels)
        ax.tick_params(axis="x", length=0, pad=6, labelsize=10)
        ax.set_ylim(0, 100)
        ax.set_xlim(-0.55, len(weeks) - 0.45)
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        ax.tick_params(axis="y", length=0, labelcolor=show.MUTED)
        ax.set_ylabel("answered on time", color=show.MUTED)
        ax.grid(axis="y", color="#e6e9eb", linewidth=0.8, zorder=0)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(
            f"{report.display_name}: first responses on time, per week — {show.month_name(report)}",
            loc="left",
            fontsize=14.5,
            fontweight="bold",
            color=show.INK,
            pad=30,
        )
        ax.annotate(
            f"Month: {show.percent(total.compliance)} on time  ·  {total.tickets:,} tickets  ·  "
            f"{total.breached:,} breached  ·  {total.pending:,} not yet due",
            xy=(0, 1),
            xycoords="axes fraction",
            xytext=(0, 10),
            textcoords="offset points",
            fontsize=10.5,
            color=show.MUTED,
        )
        fig.legend(
            handles=[
                Patch(color=show.GOOD, label="at or above target"),
                Patch(color=show.NEAR, label=f"up to {show.NEAR_MISS_POINTS:g} points below"),
                Patch(color=show.BAD, label="further below"),
                Line2D(
                    [],
                    [],
                    color=show.INK,
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
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    # the <svg> element only: no XML declaration, DOCTYPE or metadata
    text = out.getvalue()
    text = text[text.index("<svg") :]
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
