"""The monthly SLA report: every figure of a hand-built month, checked by hand.

The desk is the shipped CleverBox desk: time zone Europe/Kyiv (UTC+2 all of November 2026, the
clocks went back on 25 October), calendar "office" Mon–Fri 09:00–18:00, no public holidays
(Ukraine has none off under martial law). Standard tickets get 24 working hours to the first
response, emergency ones 3. The report is for November 2026, judged at Fri 2026-11-20 12:00.

November 2026: Sun 1, Mon 2, Fri 6, Mon 9, Tue 10, Wed 11, Thu 12, Sat 14, Mon 16, Wed 18,
Thu 19, Fri 20. ISO weeks: W44 starts Mon 26 Oct (only Sun 1 Nov is in the month), W45 Mon 2,
W46 Mon 9, W47 Mon 16, W48 Mon 23, W49 Mon 30 (only Mon 30 in the month).

The tickets (K = Kyiv local time; hours are working hours on "office" unless said otherwise):

id   customer     level      received (K)  target: due (K)             answered (K)   verdict, h
T1   ТОВ Вектор   standard   Mon 2 10:00   24 h: Wed 4 16:00 (a)       Mon 2 14:30    met, 4.5
T2   ТОВ Вектор   standard   Fri 6 17:30   24 h: Wed 11 14:30 (b)      Thu 12 10:00   breached, 28.5
T3   Гамма        emergency  Wed 18 16:00  3 h: Thu 19 10:00           —              breached (d)
T4   Гамма        emergency  Fri 20 10:30  3 h: Fri 20 13:30           —              pending (e)
T5   Гамма        emergency  Sat 14 11:00  3 h: Mon 16 12:00           Mon 16 09:45   met, 0.75 (f)
T6   ТОВ Вектор   standard   Tue 10 09:00  24 h from Wed 11 15:00 (g)  Thu 12 11:00   met, 5.0 (g)
T8   (none)       standard   Sun 1 00:30   no clock: Mon 2 00:30       Sun 1 06:30    met, 6.0 (h)
T9   ТОВ Вектор   standard   Thu 19 09:00  no target at all            —              no target
T10  Гамма        emergency  Mon 2 09:00   resolution 24 h: Wed 4 15:00  (i)          breached, 0.25
T7   ТОВ Вектор   standard   Sat 31 Oct 23:30 (21:30 UTC 31 Oct): previous month, not counted
T11  ТОВ Вектор   standard   Tue 1 Dec 00:30 (22:30 UTC 30 Nov): next month, not counted
T12  (desk serwisant)        Tue 10 Nov: another desk, not counted

(a) Mon 10–18 = 8 h, Tue 9 h (17), Wed 09:00 + 7 h = 16:00.
(b) Fri 17:30–18:00 = 0.5 h, Mon 9 h (9.5), Tue 9 h (18.5), Wed 09:00 + 5.5 h = 14:30.
(c) T2's hours: 0.5 (Fri) + 9 (Mon) + 9 (Tue) + 9 (Wed) + 1 (Thu 9–10) = 28.5.
(d) unanswered and due (Thu 19 10:00) < now (Fri 20 12:00).
(e) unanswered, due (Fri 20 13:30) still ahead of now.
(f) the clock starts Mon 09:00; wall-clock it would be 46.75 h.
(g) paused for the customer from the start, resumed Wed 11 15:00 (sla_running_since, 0 s used);
    due Wed 3 h, Thu 9 (12), Fri 9 (21), Mon 09:00 + 3 = Mon 16 12:00. Its clock ran Wed 3 h +
    Thu 2 h = 5 h before the answer; counted from received_at it would be 9 + 9 + 2 = 20.
(h) no SLA clock on the ticket: wall-clock hours, 00:30 -> 06:30.
(i) no first-response target, so judged on its resolution deadline: answered Mon 2 09:15
    (0.25 h, which counts in the first-response hours) but solved Thu 5 10:00, a day late.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatch
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from mailbot import reports, store
from mailbot.cli import cli
from mailbot.config import DeskSettings, load
from mailbot.reports import Report, Row, Week
from tests.conftest import SHIPPED_DESKS, write_config

REPO = Path(__file__).resolve().parent.parent
K = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=K)
STANDARD = {"calendar": "office", "first_response": 24, "resolution": 24}
EMERGENCY = {"calendar": "office", "first_response": 3, "resolution": 24}
RESOLUTION_ONLY = {"calendar": "office", "first_response": None, "resolution": 24}


def k(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    year = 2026
    return datetime(year, month, day, hour, minute, tzinfo=K)


@pytest.fixture(scope="module")
def desk() -> DeskSettings:
    return load(REPO / "config" / "mailbot.toml", environ={}).desks["cleverbox"]


def _ticket(number: str, received: datetime, **fields: Any) -> store.Ticket:
    values: dict[str, Any] = {
        "desk": "cleverbox",
        "subject": f"request {number}",
        "requester": "someone@example.test",
        "state": "open",
        "sla_level": "standard",
        "received_at": received,
        "created_at": received,
        "updated_at": received,
    }
    clock = fields.get("sla_clock")
    if clock is not None:  # a running clock started when the mail came, unless said otherwise
        values["sla_running_since"] = received
    values.update(fields)
    return store.Ticket(number=number, **values)


def _engine(tmp_path: Path, tickets: list[store.Ticket]) -> store.Database:
    engine = store.Database(f"sqlite:///{tmp_path}/m.db")
    engine.upgrade()
    with engine.transaction() as session:
        session.add_all(tickets)
    return engine


def month_tickets() -> list[store.Ticket]:
    vector, gamma = "ТОВ Вектор", "Гамма"
    return [
        _ticket(
            "T1",
            k(11, 2, 10),
            customer=vector,
            sla_clock=STANDARD,
            first_response_due=k(11, 4, 16),
            first_responded_at=k(11, 2, 14, 30),
        ),
        _ticket(
            "T2",
            k(11, 6, 17, 30),
            customer=vector,
            sla_clock=STANDARD,
            first_response_due=k(11, 11, 14, 30),
            first_responded_at=k(11, 12, 10),
        ),
        _ticket(
            "T3",
            k(11, 18, 16),
            customer=gamma,
            sla_level="emergency",
            sla_clock=EMERGENCY,
            first_response_due=k(11, 19, 10),
        ),
        _ticket(
            "T4",
            k(11, 20, 10, 30),
            customer=gamma,
            sla_level="emergency",
            sla_clock=EMERGENCY,
            first_response_due=k(11, 20, 13, 30),
        ),
        _ticket(
            "T5",
            k(11, 14, 11),
            customer=gamma,
            sla_level="emergency",
            sla_clock=EMERGENCY,
            first_response_due=k(11, 16, 12),
            first_responded_at=k(11, 16, 9, 45),
        ),
        _ticket(
            "T6",
            k(11, 10, 9),
            customer=vector,
            sla_clock=STANDARD,
            sla_running_since=k(11, 11, 15),
            sla_used_seconds=0,
            first_response_due=k(11, 16, 12),
            first_responded_at=k(11, 12, 11),
        ),
        _ticket(
            "T8",
            k(11, 1, 0, 30),
            customer=None,
            first_response_due=k(11, 2, 0, 30),
            first_responded_at=k(11, 1, 6, 30),
        ),
        _ticket("T9", k(11, 19, 9), customer=vector),
        _ticket(
            "T10",
            k(11, 2, 9),
            customer=gamma,
            sla_level="emergency",
            sla_clock=RESOLUTION_ONLY,
            resolution_due=k(11, 4, 15),
            first_responded_at=k(11, 2, 9, 15),
            solved_at=k(11, 5, 10),
            state="solved",
        ),
        _ticket(
            "T7",
            k(10, 31, 23, 30),
            customer=vector,
            sla_clock=STANDARD,
            first_response_due=k(11, 4, 9),
        ),
        _ticket(
            "T11",
            k(12, 1, 0, 30),
            customer=vector,
            sla_clock=STANDARD,
            first_response_due=k(12, 3, 18),
        ),
        _ticket(
            "T12",
            k(11, 10, 10),
            desk="serwisant",
            customer=vector,
            sla_clock={"calendar": "office", "first_response": 8, "resolution": None},
            first_response_due=k(11, 11, 10),
        ),
    ]


@pytest.fixture
def report(tmp_path: Path, desk: DeskSettings) -> Report:
    return reports.build(_engine(tmp_path, month_tickets()), desk, "2026-11", NOW)


def test_every_row(report: Report) -> None:
    assert report.desk == "cleverbox"
    assert report.title == "CleverBox:CRM"
    assert report.month == "2026-11"
    assert report.timezone == "Europe/Kyiv"
    assert report.generated_at == NOW
    assert report.rows == (
        # T1 T2 T3 T4 T5 T6 T8 T9 T10; met T1 T5 T6 T8; breached T2 T3 T10; pending T4; T9 none.
        # hours 0.25 0.75 4.5 5 6 28.5: median (4.5 + 5) / 2; p90 rank ceil(5.4) = 6 -> 28.5
        Row("all", "all", 9, 4, 3, 1, 4.75, 28.5),
        # emergency: T3 T4 T5 T10; hours 0.25 (T10) 0.75 (T5): median 0.5, p90 rank 2 -> 0.75
        Row("level", "emergency", 4, 1, 2, 1, 0.5, 0.75),
        # standard: T1 T2 T6 T8 T9; hours 4.5 5 6 28.5: median 5.5, p90 rank ceil(3.6) = 4
        Row("level", "standard", 5, 3, 1, 0, 5.5, 28.5),
        # customers by tickets, then name (Гамма before ТОВ Вектор); (no customer) last
        Row("customer", "Гамма", 4, 1, 2, 1, 0.5, 0.75),
        # ТОВ Вектор: T1 T2 T6 T9; hours 4.5 28.5 5: median 5, p90 rank ceil(2.7) = 3 -> 28.5
        Row("customer", "ТОВ Вектор", 4, 2, 1, 0, 5.0, 28.5),
        Row("customer", "(no customer)", 1, 1, 0, 0, 6.0, 6.0),  # T8, wall-clock hours
    )
    by_key = {r.key: r for r in report.rows}
    assert by_key["all"].no_target == 1  # T9
    assert by_key["ТОВ Вектор"].no_target == 1
    assert by_key["all"].compliance == pytest.approx(4 / 7)
    assert by_key["emergency"].compliance == pytest.approx(1 / 3)
    assert by_key["(no customer)"].compliance == 1.0
    assert report.total is report.rows[0]


def test_weekly(report: Report) -> None:
    assert report.weekly == (
        Week(date(2026, 10, 26), 1, 1, 0, 0, 1.0),  # W44, Sun 1 Nov only: T8 met
        Week(date(2026, 11, 2), 3, 1, 2, 0, 1 / 3),  # T1 met, T2 T10 breached
        Week(date(2026, 11, 9), 2, 2, 0, 0, 1.0),  # T6, T5 (Saturday) met
        Week(date(2026, 11, 16), 3, 0, 1, 1, 0.0),  # T3 breached, T4 pending, T9 no target
        Week(date(2026, 11, 23), 0, 0, 0, 0, None),
        Week(date(2026, 11, 30), 0, 0, 0, 0, None),  # W49: Mon 30 only
    )


def test_due_time_itself_is_not_yet_breached(tmp_path: Path, desk: DeskSettings) -> None:
    engine = _engine(tmp_path, month_tickets())
    due = k(11, 20, 13, 30)  # T4's due time
    at_due = reports.build(engine, desk, "2026-11", due)
    just_after = reports.build(engine, desk, "2026-11", due + timedelta(microseconds=1))
    assert (at_due.total.breached, at_due.total.pending) == (3, 1)
    assert (just_after.total.breached, just_after.total.pending) == (4, 0)


def test_a_clock_held_from_the_start(tmp_path: Path, desk: DeskSettings) -> None:
    """Waiting for the customer from the first mail: no due time yet, so pending, then met."""
    held = dict(customer="Гамма", sla_clock=STANDARD, sla_running_since=None)
    engine = _engine(
        tmp_path,
        [
            _ticket("H1", k(11, 3, 10), **held),
            _ticket("H2", k(11, 3, 11), first_responded_at=k(11, 4, 10), **held),
        ],
    )
    rows = reports.build(engine, desk, "2026-11", NOW).rows
    # H2's clock never ran: its hours count from received_at, Tue 11:00 -> Wed 10:00 = 8 h
    assert rows[0] == Row("all", "all", 2, 1, 0, 1, 8.0, 8.0)


def test_nearest_rank_percentile() -> None:
    assert reports.nearest_rank([7.0], 90) == 7.0
    one_to_ten = [float(i) for i in range(10, 0, -1)]  # unsorted on purpose
    assert reports.nearest_rank(one_to_ten, 90) == 9.0  # rank ceil(9.0) = 9
    assert reports.nearest_rank(one_to_ten, 91) == 10.0  # rank ceil(9.1) = 10
    assert reports.nearest_rank(one_to_ten, 50) == 5.0
    assert reports.nearest_rank(one_to_ten, 100) == 10.0
    assert reports.nearest_rank([float(i) for i in range(1, 21)], 90) == 18.0  # rank 18
    assert reports.nearest_rank([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 90) == 6.0  # ceil(5.4) = 6
    assert reports.nearest_rank([float(i) for i in range(1, 101)], 90) == 90.0
    with pytest.raises(ValueError):
        reports.nearest_rank([], 90)
    with pytest.raises(ValueError):
        reports.nearest_rank([1.0], 0)


def test_bad_arguments(tmp_path: Path, desk: DeskSettings) -> None:
    engine = _engine(tmp_path, [])
    with pytest.raises(ValueError, match="YYYY-MM"):
        reports.build(engine, desk, "2026-13", NOW)
    with pytest.raises(ValueError, match="YYYY-MM"):
        reports.build(engine, desk, "11/2026", NOW)
    with pytest.raises(ValueError, match="aware"):
        reports.build(engine, desk, "2026-11", datetime(2026, 11, 20, 12))


def _cells(row: Row) -> list[str]:
    """How text and HTML show a row of the scenario (it has a no-target ticket)."""
    return [
        f"{row.tickets:,}",
        f"{row.met:,}",
        f"{row.breached:,}",
        f"{row.pending:,}",
        f"{row.no_target:,}",
        "–" if row.compliance is None else f"{row.compliance * 100:.1f} %",
        "–"
        if row.median_first_response_hours is None
        else f"{row.median_first_response_hours:.2f}",
        "–" if row.p90_first_response_hours is None else f"{row.p90_first_response_hours:.2f}",
    ]


def test_json_csv_text_html_carry_the_same_figures(report: Report) -> None:
    data = reports.as_json(report)
    assert json.loads(json.dumps(data)) == data
    assert data["desk"] == "cleverbox"
    assert data["generated_at"] == "2026-11-20T12:00:00+02:00"
    assert len(data["rows"]) == len(report.rows)
    for row, got in zip(report.rows, data["rows"], strict=True):
        assert got == {
            "group": row.group,
            "key": row.key,
            "tickets": row.tickets,
            "met": row.met,
            "breached": row.breached,
            "pending": row.pending,
            "no_target": row.no_target,
            "compliance": None if row.compliance is None else round(row.compliance, 4),
            "median_first_response_hours": row.median_first_response_hours,
            "p90_first_response_hours": row.p90_first_response_hours,
        }
    assert data["rows"][0]["compliance"] == 0.5714  # 4 / 7
    assert [w["week_start"] for w in data["weekly"]] == [
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
        "2026-11-23",
        "2026-11-30",
    ]
    assert [w["iso_week"] for w in data["weekly"]] == [44, 45, 46, 47, 48, 49]
    assert [w["compliance"] for w in data["weekly"]] == [1.0, 0.3333, 1.0, 0.0, None, None]
    assert [(w["tickets"], w["met"], w["breached"], w["pending"]) for w in data["weekly"]] == [
        (w.tickets, w.met, w.breached, w.pending) for w in report.weekly
    ]

    table = list(csv.DictReader(io.StringIO(reports.as_csv(report))))
    assert len(table) == len(report.rows) + len(report.weekly)
    for row, line in zip(report.rows, table, strict=False):
        assert (line["group"], line["key"]) == (row.group, row.key)
        assert [int(line[f]) for f in ("tickets", "met", "breached", "pending", "no_target")] == [
            row.tickets,
            row.met,
            row.breached,
            row.pending,
            row.no_target,
        ]
        assert float(line["compliance"]) == round(row.compliance or 0, 4)
        assert float(line["median_first_response_hours"]) == row.median_first_response_hours
        assert float(line["p90_first_response_hours"]) == row.p90_first_response_hours
    weeks = table[len(report.rows) :]
    assert [(w["group"], w["key"], w["tickets"], w["compliance"]) for w in weeks] == [
        ("week", "2026-10-26", "1", "1.0"),
        ("week", "2026-11-02", "3", "0.3333"),
        ("week", "2026-11-09", "2", "1.0"),
        ("week", "2026-11-16", "3", "0.0"),
        ("week", "2026-11-23", "0", ""),
        ("week", "2026-11-30", "0", ""),
    ]

    text = reports.as_text(report)
    assert "CleverBox:CRM (cleverbox), November 2026" in text
    for row in report.rows:
        wanted = re.escape(row.key) + r"\s+" + r"\s+".join(map(re.escape, _cells(row)))
        assert re.search(wanted, text), (wanted, text)
    for label, cells in [
        ("W44 · 1 Nov", "1 1 0 0 100.0 %"),
        ("W45 · 2–8 Nov", "3 1 2 0 33.3 %"),
        ("W46 · 9–15 Nov", "2 2 0 0 100.0 %"),
        ("W47 · 16–22 Nov", "3 0 1 1 0.0 %"),
        ("W48 · 23–29 Nov", "0 0 0 0 –"),
        ("W49 · 30 Nov", "0 0 0 0 –"),
    ]:
        assert re.search(re.escape(label) + r"\s+" + r"\s+".join(cells.split(" ")), text), label

    html = reports.as_html(report)
    for row in report.rows:
        key = "all tickets" if row.group == "all" else row.key
        pattern = rf"<td>{re.escape(escape(key))}</td>" + "".join(
            rf'<td(?: class="\w+")?>{re.escape(escape(c))}</td>' for c in _cells(row)
        )
        assert re.search(pattern, html), pattern
    assert '<td class="bad">57.1 %</td>' in html  # 4 / 7, far under the 95 % target
    assert '<td class="good">100.0 %</td>' in html
    for label in ("W44 · 1 Nov", "W45 · 2–8 Nov", "W49 · 30 Nov"):
        assert f"<td>{label}</td>" in html


def test_html_is_one_offline_file_with_the_chart(report: Report) -> None:
    html = reports.as_html(report, target=0.9)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 1 and "</svg>" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    # the chart's words: desk, month, the weeks, the bar values and the target line
    for text in (
        "CleverBox:CRM",
        "November 2026",
        "W44",
        "W49",
        "33.3 %",
        "1 of 3",
        "no tickets",
        "target 90 %",
    ):
        assert text in svg, text
    # nothing loaded from anywhere: no URL at all, no script, no stylesheet link, no import
    assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I)
    for needle in ("<script", "<link", "@import", "src=", "<iframe", "<img", "<object"):
        assert needle not in html.lower(), needle
    assert not re.search(r"url\(\s*['\"]?(?!#)", html)  # only the chart's own clip paths
    assert not re.search(r"href=\"(?!#)", html)


def test_names_are_escaped_and_an_empty_month_renders(tmp_path: Path, desk: DeskSettings) -> None:
    engine = _engine(
        tmp_path,
        [
            _ticket(
                "E1",
                k(11, 3, 10),
                customer="A&B <script>alert(1)</script>",
                sla_clock=STANDARD,
                first_response_due=k(11, 5, 10),
            )
        ],
    )
    html = reports.as_html(reports.build(engine, desk, "2026-11", NOW))
    assert "<script" not in html
    assert "A&amp;B &lt;script&gt;alert(1)&lt;/script&gt;" in html
    empty = reports.build(engine, desk, "2026-02", NOW)
    assert empty.rows == (Row("all", "all", 0, 0, 0, 0, None, None),)
    assert [w.start for w in empty.weekly] == [
        date(2026, 1, 26),
        date(2026, 2, 2),
        date(2026, 2, 9),
        date(2026, 2, 16),
        date(2026, 2, 23),
    ]
    assert all(w.compliance is None for w in empty.weekly)
    assert "<svg" in reports.as_html(empty)
    assert "all" in reports.as_text(empty)
    assert reports.as_csv(empty).splitlines()[1] == "all,all,0,0,0,0,0,,,"


def test_the_plotting_library_loads_only_for_html() -> None:
    code = (
        "import sys, mailbot.reports; "
        "print(any(m == 'matplotlib' or m.startswith('matplotlib.') for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "False"


def test_generated_at_shown_in_desk_time(report: Report) -> None:
    later = Report(
        report.desk,
        report.month,
        datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        report.rows,
        report.weekly,
        report.title,
        report.timezone,
    )
    assert reports.as_json(later)["generated_at"] == "2026-12-01T08:00:00+02:00"
    assert "generated 2026-12-01 08:00" in reports.as_text(later)


def test_colours_judge_the_figure_as_shown() -> None:
    rows = (
        Row("all", "all", 20_200, 19_092, 1_108, 0, None, None),
        Row("level", "almost", 20_000, 18_999, 1_001, 0, None, None),  # 94.995 % shows 95.0 %
        Row("level", "near", 100, 93, 7, 0, None, None),  # 2 points under 95: amber
        Row("level", "far", 100, 80, 20, 0, None, None),  # 15 points under: red
    )
    report = Report("cleverbox", "2026-11", NOW, rows, (), "CleverBox:CRM", "Europe/Kyiv")
    html = reports.as_html(report)
    assert '<td class="good">95.0 %</td>' in html
    assert '<td class="near">93.0 %</td>' in html
    assert '<td class="bad">80.0 %</td>' in html
    with pytest.raises(ValueError):
        reports.as_html(report, target=95)


def test_only_the_chart_we_drew_is_trusted_markup() -> None:
    """Names from config and data show as text on the page and in the chart's own texts."""
    hostile = "<script>alert(1)</script>"
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    rows = (Row("all", "all", 1, 1, 0, 0, 1.0, 1.0), Row("level", hostile, 1, 1, 0, 0, 1.0, 1.0))
    weekly = (Week(date(2026, 11, 2), 1, 1, 0, 0, 1.0),)
    report = Report(hostile, "2026-11", NOW, rows, weekly, hostile, "Europe/Kyiv")
    html = reports.as_html(report)
    assert "<script" not in html.lower()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert escaped in svg  # the chart's title names the desk: matplotlib wrote it as text
    assert f"<title>SLA report: {escaped}, November 2026</title>" in html
    assert f"<h1>{escaped}: SLA report, November 2026</h1>" in html
    assert f"Desk <b>{escaped}</b>" in html
    assert f"<td>{escaped}</td>" in html


CHART_NOT_DRAWN = (
    "Chart not drawn: install mailbot[charts] (matplotlib) to see the weekly compliance chart."
)


def _without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without the charts extra: None in sys.modules makes the import fail."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_without_matplotlib_the_page_says_so_and_keeps_its_tables(
    report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_matplotlib(monkeypatch)
    with pytest.raises(ImportError, match=re.escape("mailbot[charts]")):
        reports.chart_svg(report)
    html = reports.as_html(report)
    assert CHART_NOT_DRAWN in html
    assert "<svg" not in html
    for heading in ("By SLA level", "By customer", "Per ISO week (by the day received)"):
        assert f"<h2>{heading}</h2>" in html, heading
    assert '<td class="bad">57.1 %</td>' in html
    assert "<td>W45 · 2–8 Nov</td>" in html


def test_the_cli_writes_the_page_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)
    page = tmp_path / "report.html"
    _without_matplotlib(monkeypatch)
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "sla",
            "report",
            "--desk",
            "cleverbox",
            "--month",
            "2026-11",
            "--html",
            str(page),
            "--now",
            "2026-11-20T12:00+02:00",
        ],
        obj={},
    )
    assert result.exit_code == 0, result.output
    assert "CleverBox:CRM (cleverbox), November 2026" in result.stdout
    html = page.read_text(encoding="utf-8")
    assert CHART_NOT_DRAWN in html and "<svg" not in html
    assert "<h2>Per ISO week (by the day received)</h2>" in html


def test_the_chart_is_an_optional_extra_and_the_template_ships() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    assert not any(d.startswith("matplotlib") for d in project["project"]["dependencies"])
    assert "matplotlib>=3.8" in extras["charts"]
    assert "matplotlib>=3.8" in extras["dev"]  # the tests draw the chart
    package_data = project["tool"]["setuptools"]["package-data"]["mailbot"]
    folder = REPO / "mailbot" / "reports" / "templates"
    templates = [p.relative_to(REPO / "mailbot").as_posix() for p in folder.iterdir()]
    assert templates
    for template in templates:
        assert any(fnmatch(template, pattern) for pattern in package_data), template
