"""Reprocess benchmark: a generated maildir through `mailbot reprocess`, twice.

For each N given (default 5,000 and 20,000), in a fresh temporary folder:

* writes a maildir of N support mails to the five shipped desks (the mix of
  `benchmarks/ingest.py`: plain text in UTF-8, KOI8-R and windows-1251, every eighth with a
  200 KB attachment, and one in five a customer's reply to an earlier mail of the same
  run, In-Reply-To its parent), each file's mtime its arrival time, in order;
* runs `mailbot reprocess MAILDIR --no-replies` (a subprocess, a fresh SQLite database) and
  reports wall seconds, messages per second and the process's peak RSS (VmHWM via wait4);
* runs it again and checks the second run reports every message as already taken and the
  database holds no more tickets or outbox rows than before.

Peak RSS for 5,000 and 20,000 side by side shows whether memory grows with the mailbox.
Exits non-zero when a summary does not add up or the second run changed anything.

Run:
    .venv/bin/python benchmarks/reprocess.py                 # 5000 and 20000
    .venv/bin/python benchmarks/reprocess.py --n 2000 --keep
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import REPO, TICKET_PLACEHOLDER, _new_mail, _reply

MAILBOT = REPO / ".venv" / "bin" / "mailbot"
START = 1_790_000_000.0  # arrival of the first mail (epoch seconds, late 2026)


def write_maildir(folder: Path, n: int) -> dict[str, int]:
    """N mails in `folder/cur` (a fifth in `new`), replies after their parents."""
    run = uuid.uuid4().hex[:10]
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    replies = n // 5
    fresh = [_new_mail(run, j) for j in range(n - replies)]
    kinds = {"new": len(fresh), "reply": 0}
    mails = list(fresh)
    for r in range(replies):
        parent = fresh[(r * 7) % len(fresh)]
        if parent.kind == "multipart":
            parent = fresh[((r * 7) % len(fresh)) - 1]
        reply = _reply(run, len(mails), parent)
        reply.raw = reply.raw.replace(b"[" + TICKET_PLACEHOLDER + b"] ", b"")
        mails.append(reply)
        kinds["reply"] += 1
    for i, mail in enumerate(mails):
        when = START + i * 30
        sub = "new" if i % 5 == 4 else "cur"
        name = f"{int(when)}.M{i}P1.bench" + (":2,S" if sub == "cur" else "")
        path = folder / sub / name
        path.write_bytes(mail.raw)
        os.utime(path, (when, when))
    return kinds


def write_config(folder: Path) -> Path:
    config = folder / "mailbot.toml"
    config.write_text(
        f'''
desks_dir = "{REPO / "config" / "desks"}"
templates_dir = "{REPO / "templates"}"
[database]
url = "sqlite:///{folder / "mailbot.db"}"
[spool]
path = "{folder / "spool"}"
[smtp]
listen = "127.0.0.1:2525"
max_message_size = 26214400
[outbound]
maildir = "{folder / "sent"}"
[logging]
level = "WARNING"
format = "json"
'''
    )
    return config


def _hwm(pid: int) -> int:
    """VmHWM (KiB) of a running process, 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def run_reprocess(config: Path, maildir: Path) -> tuple[float, int, str, int]:
    """(wall seconds, peak RSS in KiB, summary, exit code) of one `mailbot reprocess` run.

    Peak RSS is the process's own VmHWM, read while it runs: wait4's ru_maxrss would count
    the memory of this (large) generating process that the child shares until exec."""
    started = time.monotonic()
    peak = 0
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [str(MAILBOT), "--config", str(config), "reprocess", str(maildir), "--no-replies"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        while process.poll() is None:
            peak = max(peak, _hwm(process.pid))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        out.seek(0)
        text = out.read()
    return elapsed, peak, text, process.returncode


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("spool_item", "ticket", "message", "outbox")
        }


def bench(n: int, keep: bool) -> bool:
    folder = Path(tempfile.mkdtemp(prefix=f"reprocess-{n}-"))
    ok = True
    try:
        maildir = folder / "Maildir"
        t0 = time.monotonic()
        kinds = write_maildir(maildir, n)
        size = sum(p.stat().st_size for p in maildir.rglob("*") if p.is_file())
        print(
            f"\n== {n} messages ({kinds['new']} new requests, {kinds['reply']} replies, "
            f"{size / 1e6:.0f} MB), written in {time.monotonic() - t0:.1f} s"
        )
        config = write_config(folder)
        first_s, first_rss, first_out, first_code = run_reprocess(config, maildir)
        after_first = counts(folder / "mailbot.db")
        print(
            f"first run:  {first_s:6.1f} s  {n / first_s:7.0f} msg/s  peak RSS "
            f"{first_rss / 1024:.0f} MiB  exit {first_code}"
        )
        print(first_out.rstrip())
        second_s, second_rss, second_out, second_code = run_reprocess(config, maildir)
        after_second = counts(folder / "mailbot.db")
        print(
            f"second run: {second_s:6.1f} s  {n / second_s:7.0f} msg/s  peak RSS "
            f"{second_rss / 1024:.0f} MiB  exit {second_code}"
        )
        print(second_out.rstrip())
        print(f"rows after run 1: {after_first}; after run 2: {after_second}")
        taken = [ln for ln in second_out.splitlines() if ln.strip().startswith("already taken")]
        if first_code != 0 or second_code != 0:
            print("FAIL: a run exited non-zero")
            ok = False
        if not taken or int(taken[0].split()[-1]) != n:
            print("FAIL: the second run did not report every message as already taken")
            ok = False
        if after_first != after_second:
            print("FAIL: the second run changed the database")
            ok = False
    finally:
        if keep or not ok:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="5000,20000", help="comma-separated mailbox sizes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    results = [bench(int(n), args.keep) for n in args.n.split(",")]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
