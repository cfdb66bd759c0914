"""SLA benchmark: deadline computations per second on Serwisant's Warsaw calendar.

What it measures: `Calendar.add` for 1-hour and 1,000-hour working durations from N random
start instants spread over 2026-2027 (any second of the day, weekends and holidays included),
`working_time_between` for N random ranges up to a year long, and `end_of_working_day`. The
calendar is the Serwisant desk's (Europe/Warsaw, mon-fri 09:00-16:00, Polish holidays), built
with `Calendar.from_config` as the desk config does.

Each figure is measured twice: "cold" on a freshly built calendar (its per-day and per-week
memo empty, as right after start-up) and "warm" on the same calendar again (as in a long-running
worker, where every day of the coming months has been seen). Starts and durations are drawn
before the clock starts. Every `add` result is checked with `working_time_between` after the
timing, so a broken run is not timed as a fast one. Last, the cost of one 1,000-hour `add` on a
fresh calendar, where all ~200 days it spans are computed from the time zone for the first time.

Run:
    .venv/bin/python benchmarks/business_time.py                # N = 20,000 per figure
    .venv/bin/python benchmarks/business_time.py --n 100000 --seed 7 --json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from mailbot.business_time import Calendar

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 86400  # 2026-2027
T = TypeVar("T")


def serwisant() -> Calendar:
    return Calendar.from_config(
        timezone="Europe/Warsaw", hours={"mon-fri": "09:00-16:00"}, country="PL", name="serwisant"
    )


def add_all(calendar: Calendar, starts: list[datetime], duration: timedelta) -> list[datetime]:
    return [calendar.add(t, duration) for t in starts]


def between_all(
    calendar: Calendar, starts: list[datetime], ends: list[datetime]
) -> list[timedelta]:
    return [calendar.working_time_between(a, b) for a, b in zip(starts, ends, strict=True)]


def end_of_day_all(calendar: Calendar, starts: list[datetime]) -> list[datetime]:
    return [calendar.end_of_working_day(t) for t in starts]


def timed(n: int, run: Callable[[], list[T]]) -> tuple[float, list[T]]:
    """Operations per second of `run` (which does n operations), and its results."""
    began = time.perf_counter()
    out = run()
    return n / (time.perf_counter() - began), out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="operations per figure")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object too")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    starts = [START + timedelta(seconds=rng.randrange(SPAN_SECONDS)) for _ in range(args.n)]
    ends = [s + timedelta(seconds=rng.randrange(365 * 86400)) for s in starts]
    results: dict[str, float] = {}

    for label, hours in (("add 1 h", 1), ("add 1000 h", 1000)):
        duration = timedelta(hours=hours)
        calendar = serwisant()
        for phase in ("cold", "warm"):
            rate, out = timed(args.n, partial(add_all, calendar, starts, duration))
            results[f"{label} {phase}"] = rate
        bad = sum(
            calendar.working_time_between(s, r) != duration
            for s, r in zip(starts, out, strict=True)
        )
        if bad:
            print(f"{label}: {bad} results do not hold {duration} of working time", file=sys.stderr)
            return 1

    calendar = serwisant()
    for phase in ("cold", "warm"):
        results[f"between <= 1 year {phase}"], _ = timed(
            args.n, partial(between_all, calendar, starts, ends)
        )
    calendar = serwisant()
    for phase in ("cold", "warm"):
        results[f"end_of_working_day {phase}"], _ = timed(
            args.n, partial(end_of_day_all, calendar, starts)
        )

    fresh = serwisant()
    began = time.perf_counter()
    fresh.add(starts[0], timedelta(hours=1000))
    first_us = (time.perf_counter() - began) * 1e6

    print(f"calendar: {serwisant()!r}")
    print(f"n = {args.n} per figure, starts uniform over 2026-2027, seed {args.seed}")
    width = max(map(len, results))
    for name, rate in results.items():
        print(f"  {name:<{width}}  {rate:>12,.0f} /s  {1e6 / rate:>8.2f} µs each")
    print(f"  first add 1000 h on a fresh calendar (every day computed): {first_us:,.0f} µs")
    if args.json:
        summary = {"n": args.n, "seed": args.seed, "per_second": results, "first_us": first_us}
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
