"""Report benchmark: the monthly SLA report over 100,000 tickets.

What it does: fills a fresh SQLite store (WAL, as shipped) with N tickets of the shipped
CleverBox desk (Europe/Kyiv, calendar "office": mon-fri 09:00-18:00) received during
November 2026, inserted in one transaction with SQLAlchemy Core executemany, then times, on a
freshly loaded desk config (so the calendar's memo starts empty, as in a new `mailbot` process):

- `reports.build` (query, classification, working-hours medians and p90s),
- `reports.as_text`,
- `reports.as_html` (matplotlib imported on first use; chart rendered to inline SVG).

The tickets look like a real month: arrivals mostly on weekdays in office hours (some at night
and at weekends), 12 customers of very different sizes plus mail from unknown senders, 85 %
"standard" (24 working hours to the first response) and 15 % "emergency" (3 working hours),
3 % whose clock waited for the customer before it started; response delays drawn from a
log-normal in working hours, slower in the third week (a short-staffed week), so some tickets
breach; tickets answered after "now" (2026-11-30 17:00 Kyiv) are still unanswered. Due times
come from the desk's real calendar (`deadlines.due`). Generation is not timed.

Run:
    .venv/bin/python benchmarks/report.py                  # N = 100,000
    .venv/bin/python benchmarks/report.py --n 20000 --html /tmp/report.html --json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlmodel import SQLModel

from mailbot import config as config_mod
from mailbot import deadlines, reports
from mailbot.store import Database

REPO = Path(__file__).resolve().parent.parent
DESK = "cleverbox"
MONTH = "2026-11"
KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=KYIV)
CUSTOMERS = [
    ("ТОВ Вектор", 30),
    ("Гамма", 18),
    ("Beta LLC", 12),
    ("ТОВ Альфа-Трейд", 9),
    ("Нова Логістика", 7),
    ("Orion Retail", 6),
    ("ФОП Коваленко", 4),
    ("Delta Foods", 4),
    ("Сигма Груп", 3),
    ("ПП Світанок", 2),
    ("Kappa Systems", 2),
    ("Омега-Сервіс", 1),
    (None, 2),
]


def load_desk() -> config_mod.DeskSettings:
    return config_mod.load(REPO / "config" / "mailbot.toml", environ={}).desks[DESK]


def _arrival(rng: random.Random, month_start: datetime, days: int) -> datetime:
    """Mostly weekday office hours, some evenings, nights and weekends (desk time)."""
    while True:
        day = month_start + timedelta(days=rng.randrange(days))
        weekend = day.weekday() >= 5
        if weekend and rng.random() < 0.8:
            continue
        hour = rng.uniform(8.5, 18.5) if rng.random() < 0.85 else rng.uniform(0, 24)
        local = day.replace(hour=0) + timedelta(hours=hour)
        return local.replace(tzinfo=KYIV)


def generate(n: int, seed: int) -> list[dict[str, object]]:
    desk = load_desk()
    calendar = deadlines.calendars(desk)["office"]
    rng = random.Random(seed)
    names = [c for c, _ in CUSTOMERS]
    weights = [w for _, w in CUSTOMERS]
    month_start = datetime(2026, 11, 1, tzinfo=KYIV)
    now = NOW.astimezone(UTC)
    rows: list[dict[str, object]] = []
    while len(rows) < n:
        received = _arrival(rng, month_start, 30).astimezone(UTC)
        if received >= now:
            continue
        level = "emergency" if rng.random() < 0.15 else "standard"
        target = 3.0 if level == "emergency" else 24.0
        clock = deadlines.Clock("office", target, 24.0)
        running_since = received
        if rng.random() < 0.03:  # waited for the customer's missing details first
            running_since = calendar.add(received, timedelta(hours=rng.uniform(1, 30)))
        first_due = deadlines.due(desk, clock, target, running_since, timedelta(0))
        resolution_due = deadlines.due(desk, clock, 24.0, running_since, timedelta(0))
        week = received.astimezone(KYIV).isocalendar().week
        slow = 2.2 if week == 47 else 1.0  # the short-staffed week
        median = (1.0 if level == "emergency" else 5.0) * slow
        delay = rng.lognormvariate(0, 0.9) * median
        responded: datetime | None = calendar.add(running_since, timedelta(hours=delay))
        assert responded is not None
        if responded > now:
            responded = None
        solved = None
        if responded is not None and rng.random() < 0.7:
            solved = calendar.add(responded, timedelta(hours=rng.lognormvariate(1.5, 0.8)))
            if solved > now:
                solved = None
        state = "solved" if solved else "open" if responded else "new"
        i = len(rows) + 1
        rows.append(
            {
                "desk": DESK,
                "number": f"CBX-{i:06d}",
                "subject": f"Request {i}",
                "requester": f"user{i % 997}@example.test",
                "requester_name": "",
                "state": state,
                "customer": rng.choices(names, weights)[0],
                "language": "ru",
                "sla_level": level,
                "priority": None,
                "missing": [],
                "received_at": received,
                "first_response_due": first_due,
                "resolution_due": resolution_due,
                "sla_clock": clock.as_json(),
                "sla_running_since": running_since,
                "sla_used_seconds": 0,
                "first_responded_at": responded,
                "solved_at": solved,
                "created_at": received,
                "updated_at": solved or responded or received,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="tickets (default 100,000)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--html", type=Path, help="also write the HTML report here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--keep", action="store_true", help="keep the database folder")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="mailbot-report-bench-"))
    engine = Database(f"sqlite:///{folder / 'm.db'}")
    engine.upgrade()
    t0 = time.perf_counter()
    rows = generate(args.n, args.seed)
    t1 = time.perf_counter()
    with engine.engine.begin() as conn:
        conn.execute(insert(SQLModel.metadata.tables["ticket"]), rows)
    t2 = time.perf_counter()
    print(f"tickets: {args.n:,} generated in {t1 - t0:.1f} s, inserted in {t2 - t1:.1f} s")

    desk = load_desk()  # fresh config: calendars are built and memoised anew, as in a new process
    t3 = time.perf_counter()
    report = reports.build(engine, desk, MONTH, NOW)
    t4 = time.perf_counter()
    text = reports.as_text(report)
    t5 = time.perf_counter()
    html = reports.as_html(report)
    t6 = time.perf_counter()
    figures = {
        "tickets": args.n,
        "build_s": round(t4 - t3, 3),
        "as_text_s": round(t5 - t4, 3),
        "as_html_s": round(t6 - t5, 3),
        "total_s": round(t6 - t3, 3),
        "html_bytes": len(html.encode()),
    }
    total = report.total
    assert total.tickets == args.n, (total.tickets, args.n)
    print(
        f"report rows: {len(report.rows)}, weeks: {len(report.weekly)}; all: {total.met} met, "
        f"{total.breached} breached, {total.pending} pending, median "
        f"{total.median_first_response_hours} h, p90 {total.p90_first_response_hours} h"
    )
    print(
        f"build {figures['build_s']:.3f} s   as_text {figures['as_text_s']:.3f} s   "
        f"as_html {figures['as_html_s']:.3f} s   total {figures['total_s']:.3f} s   "
        f"(HTML {figures['html_bytes']:,} bytes)"
    )
    if args.json:
        print(json.dumps(figures))
    if args.html:
        args.html.write_text(html, encoding="utf-8")
        print(f"HTML written to {args.html}")
    if args.keep:
        print(f"database kept in {folder}")
    else:
        engine.dispose()
        for path in sorted(folder.iterdir()):
            path.unlink()
        folder.rmdir()
    _ = text
    return 0


if __name__ == "__main__":
    sys.exit(main())
