"""How long an operator waits for a read-only command: N fresh `mailbot` processes each.

Builds a temporary project (the foundation desks of tests/desks, a SQLite file) holding
`--tickets` tickets of every state, priority and clock (written through the store, as the
pipeline leaves them), then runs each command `--n` times, each in a new Python process
(`python -m mailbot --config ... <command>`, this checkout first on PYTHONPATH), and prints
min / median / p90 wall time per command, and the median CPU time (user + system) of one
process, which a busy shared machine disturbs less than the wall time. A process start is
what the operator pays, so nothing is warmed up between runs.

    .venv/bin/python benchmarks/cli_latency.py --n 20 --tickets 2000
    .venv/bin/python benchmarks/cli_latency.py --command "tickets list --json"
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DESKS = ("cleverbox", "cloudempiere", "crmonline", "grsoft", "serwisant")
PREFIXES = {"cleverbox": "CBX", "cloudempiere": "CEM", "crmonline": "CRM", "grsoft": "GRS",
            "serwisant": "SRW"}  # fmt: skip
STATES = ("new", "open", "open", "waiting_customer", "solved", "closed")
PRIORITIES = (None, "P1", "P2", "P3", "P4")
COMMANDS = (
    "tickets list",
    "tickets list --json",
    "tickets list --desk cleverbox --state open",
    "tickets show CBX-000001",
    "quarantine list",
)


def write_project(folder: Path) -> Path:
    (folder / "config").mkdir(parents=True)
    path = folder / "config" / "mailbot.toml"
    path.write_text(
        f'desks_dir = "{REPO / "tests" / "desks"}"\ntemplates_dir = "{REPO / "templates"}"\n'
        f'[database]\nurl = "sqlite:///{folder / "m.db"}"\n[spool]\npath = "{folder / "spool"}"\n'
        f'[outbound]\nmaildir = "{folder / "sent"}"\n[logging]\nlevel = "WARNING"\n'
    )
    return path


def fill(url: str, count: int) -> None:
    """`count` tickets spread over the desks, states, priorities and clocks the queue sorts."""
    sys.path.insert(0, str(REPO))
    from mailbot.store import Database, Ticket

    db = Database(url)
    db.upgrade()
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    numbers = dict.fromkeys(DESKS, 0)
    with db.transaction() as session:
        for i in range(count):
            desk = DESKS[i % len(DESKS)]
            numbers[desk] += 1
            received = start + timedelta(minutes=17 * i)
            state = STATES[i % len(STATES)]
            clocked = i % 7 != 0
            paused = clocked and state == "waiting_customer"
            running = clocked and not paused and state not in ("solved", "closed")
            session.add(
                Ticket(
                    desk=desk,
                    number=f"{PREFIXES[desk]}-{numbers[desk]:06d}",
                    subject=f"Не работает склад, заказ {i}",
                    requester=f"customer{i % 300}@client{i % 40}.test",
                    requester_name=f"Клиент {i % 300}",
                    state=state,
                    customer=f"Client {i % 40}",
                    language="ru",
                    priority=PRIORITIES[(i // 5) % len(PRIORITIES)],
                    missing=["order_number"] if state == "waiting_customer" else [],
                    received_at=received,
                    first_response_due=received + timedelta(hours=4 + i % 11) if running else None,
                    resolution_due=received + timedelta(hours=40 + i % 23) if running else None,
                    sla_clock={"calendar": "office", "first_response": 4, "resolution": 40}
                    if clocked
                    else None,
                    sla_running_since=received if running else None,
                    sla_used_seconds=600 if paused else 0,
                    solved_at=received + timedelta(days=1) if state == "solved" else None,
                    created_at=received,
                    updated_at=received,
                )
            )
    db.dispose()


def timings(config: Path, command: str, n: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system) of each fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
           os.environ.get("PYTHONPATH")]))}  # fmt: skip
    argv = [sys.executable, "-m", "mailbot", "--config", str(config), *shlex.split(command)]
    spent, cpu = [], []
    for _ in range(n):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        spent.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{command}: exit {done.returncode}: {done.stderr.decode()}")
    return spent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="Fresh processes per command.")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument(
        "--command", action="append", help="A command to time (repeatable); default: a set."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailbot-cli-") as tmp:
        folder = Path(tmp)
        config = write_project(folder)
        fill(f"sqlite:///{folder / 'm.db'}", args.tickets)
        print(f"{args.tickets} tickets, {args.n} fresh processes per command")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"{'command':45} {'min':>7} {'median':>7} {'p90':>7} {'CPU med':>8}  (seconds)")
        for command in args.command or COMMANDS:
            wall, cpu = timings(config, command, args.n)
            spent = sorted(wall)
            p90 = spent[min(len(spent) - 1, int(0.9 * len(spent)))]
            print(
                f"{command:45} {spent[0]:7.3f} {statistics.median(spent):7.3f} {p90:7.3f}"
                f" {statistics.median(cpu):8.3f}",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
