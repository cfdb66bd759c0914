"""The pipeline alone: how many spooled mails one worker turns into tickets per second.

No SMTP, no other process: N mails are accepted into a fresh spool (SQLite, the foundation
desks), then one Worker processes them all, then one Sender writes every acknowledgement to
the maildir. Shows the worker's ceiling, to compare with the end-to-end figure of ingest.py.

    .venv/bin/python benchmarks/worker.py --n 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from mailbot import config as config_mod
from mailbot.pipeline import Worker
from mailbot.service import App

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mailbot-worker-"))
    (folder / "config").mkdir()
    path = folder / "config" / "mailbot.toml"
    path.write_text(
        f'desks_dir = "{REPO / "tests" / "desks"}"\ntemplates_dir = "{REPO / "templates"}"\n'
        f'[database]\nurl = "sqlite:///{folder / "m.db"}"\n[spool]\npath = "{folder / "spool"}"\n'
        f'[outbound]\nmaildir = "{folder / "sent"}"\n[logging]\nlevel = "WARNING"\n'
    )
    app = App.build(config_mod.load(path, environ={}))
    app.pipeline.warm_up()
    for i in range(args.n):
        msg = EmailMessage()
        msg["From"] = f"customer{i}@client.test"
        msg["To"] = "support@cleverbox.test"
        msg["Subject"] = f"Не работает склад {i}"
        msg["Message-ID"] = make_msgid(domain="client.test")
        msg.set_content("Добрый день! Склад не открывается уже второй день. " * 3)
        app.spool.accept(msg.as_bytes(policy=policy.SMTP), "smtp", rcpt_to=[msg["To"]])
    worker = Worker(app.pipeline)
    started = time.perf_counter()
    while worker.run_once():
        pass
    worker_s = time.perf_counter() - started
    sender = app.sender()
    started = time.perf_counter()
    while sender.send_due():
        pass
    sender_s = time.perf_counter() - started
    print(f"worker: {args.n / worker_s:,.0f} msg/s ({worker_s / args.n * 1000:.2f} ms per mail)")
    print(f"sender (maildir): {args.n / sender_s:,.0f} msg/s")


if __name__ == "__main__":
    main()
