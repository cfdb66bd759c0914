"""The pipeline alone: how many spooled mails one worker turns into tickets per second.

No SMTP, no other process: N mails (the mix of ingest.py: plain UTF-8/KOI8-R/windows-1251,
multipart with a 200 KB attachment, replies threading by In-Reply-To) are accepted into a
fresh spool first, then one Worker processes them all, then one Sender writes every
acknowledgement to the maildir. Shows the worker's ceiling, to compare with the end-to-end
figure of ingest.py, and is what `py-spy record` profiles:

    .venv/bin/python benchmarks/worker.py --n 2000 --desks shipped
    .venv/bin/py-spy record -o /tmp/worker.svg -- .venv/bin/python benchmarks/worker.py --n 2000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.ingest import (  # noqa: E402
    FOUNDATION_DESKS,
    TICKET_PLACEHOLDER,
    make_plans,
    shipped_desks,
)
from mailbot import config as config_mod  # noqa: E402
from mailbot.pipeline import Worker  # noqa: E402
from mailbot.service import App  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--desks", choices=("foundation", "shipped"), default="shipped")
    parser.add_argument("--db", default="", help="a database URL (default: SQLite in the folder)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mailbot-worker-"))
    desks = shipped_desks(folder) if args.desks == "shipped" else FOUNDATION_DESKS
    db_url = args.db or f"sqlite:///{folder / 'm.db'}"
    (folder / "config").mkdir()
    path = folder / "config" / "mailbot.toml"
    path.write_text(
        f'desks_dir = "{desks}"\ntemplates_dir = "{REPO / "templates"}"\n'
        f'[database]\nurl = "{db_url}"\n[spool]\npath = "{folder / "spool"}"\n'
        f'[outbound]\nmaildir = "{folder / "sent"}"\n[logging]\nlevel = "WARNING"\n'
    )
    started = time.perf_counter()
    app = App.build(config_mod.load(path, environ={}))
    app.pipeline.warm_up()
    startup_s = time.perf_counter() - started
    _, mails = make_plans(args.n, 1)
    for mail in mails:  # the replies thread by In-Reply-To; their subject number is not real
        raw = mail.raw.replace(TICKET_PLACEHOLDER, b"0")
        app.spool.accept(raw, "smtp", rcpt_to=[mail.rcpt])
    worker = Worker(app.pipeline)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    cpu = time.process_time()
    while items := app.pipeline.spool.claim(worker.name, 32):
        for outcome in worker.run_items(items):
            outcomes[outcome.outcome] += 1
    worker_s = time.perf_counter() - started
    worker_cpu = time.process_time() - cpu
    sender = app.sender()
    started = time.perf_counter()
    while sender.send_due():
        pass
    sender_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"desks: {args.desks}; {args.n} mails; outcomes: {dict(outcomes)}")
    print(f"start-up (config, database, rules, language model): {startup_s:.2f} s")
    print(
        f"worker: {args.n / worker_s:,.0f} msg/s ({worker_s / args.n * 1000:.2f} ms per mail, "
        f"{worker_cpu / args.n * 1000:.2f} ms CPU)"
    )
    print(f"sender (maildir): {args.n / sender_s:,.0f} msg/s")
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
