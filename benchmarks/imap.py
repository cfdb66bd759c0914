"""IMAP poller benchmark against a real Dovecot (tests/dovecot.py; needs root and dovecot).

For each mailbox size N (default 2,000 and 4,000, so memory can be compared at N and 2N), on
a fresh Dovecot, database and spool:

* appends N generated support mails (plain text in three languages, one in ten with a 40 KB
  attachment) with IMAP APPEND;
* end to end: `mailbot poll --once` as a process with `batch = 1000` (fetch, spool, process
  through the foundation desks' pipeline, mark): messages per second and the process's peak
  RSS (its own rusage, from wait4), and checks every message became one ticket and is marked;
* first, the transport alone, in this process: a database of its own and a poller whose
  rounds are not processed (fetch + spool only, nothing marked): messages per second.

Then IDLE: a poller sitting in IDLE (poll_interval 600 s), one mail appended at a time, ten
times: the time from the APPEND's answer to the spool file's appearance.

Run:
    .venv/bin/python benchmarks/imap.py
    .venv/bin/python benchmarks/imap.py --n 2000,4000 --batch 1000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailbot import config as config_mod  # noqa: E402
from mailbot.ingest.imap import KEYWORD, Poller, build_pollers  # noqa: E402
from mailbot.service import App  # noqa: E402
from tests.conftest import write_config  # noqa: E402
from tests.dovecot import PASSWORD, Dovecot, skip_reason  # noqa: E402

SUBJECTS = [
    ("Склад не открывается", "Добрый день! Модуль склада не открывается после обновления."),
    ("Nefunguje fakturácia", "Dobrý deň, pri vystavení faktúry systém hlási chybu 500."),
    ("Printer queue stuck", "Hello, the print queue has been stuck since this morning."),
]


def support_mail(i: int) -> bytes:
    subject, body = SUBJECTS[i % len(SUBJECTS)]
    msg = EmailMessage()
    msg["From"] = formataddr((f"Customer {i}", f"user{i % 97}@vector.test"))
    msg["To"] = "support@cleverbox.test"
    msg["Subject"] = f"{subject} #{i}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="vector.test")
    msg.set_content(f"{body}\n\nRequest {i}.\n" + "Подробности во вложении.\n" * (i % 20))
    if i % 10 == 0:
        msg.add_attachment(
            os.urandom(30_000),
            maintype="application",
            subtype="octet-stream",
            filename=f"log-{i}.bin",
        )
    return bytes(msg)


def fill(server: Dovecot, n: int) -> float:
    started = time.monotonic()
    with server.client() as client:
        for i in range(n):
            client.append("INBOX", support_mail(i))
    return time.monotonic() - started


def config_for(folder: Path, server: Dovecot, batch: int, keys: str = "") -> Path:
    block = f'\n[[imap]]\nname = "bench"\nurl = "{server.url()}"\nbatch = {batch}\n{keys}\n'
    return write_config(
        folder, f"sqlite:///{folder / 'mailbot.db'}", extra=block, max_size=26_214_400
    )


def end_to_end(n: int, batch: int) -> dict[str, float]:
    server = Dovecot().start()
    folder = Path(tempfile.mkdtemp(prefix="imap-bench-"))
    try:
        appended = fill(server, n)
        transport = transport_only(server, folder / "t", batch, n)  # marks nothing: first
        config = config_for(folder, server, batch)
        App.build(config_mod.load(config, environ={})).db.dispose()  # schema outside the timing
        env = {**os.environ, "MAILBOT_CONFIG": str(config), "MAILBOT_IMAP_PASSWORD": PASSWORD}
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailbot", "poll", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.monotonic() - started
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert os.waitstatus_to_exitcode(status) == 0, err
        app = App.build(config_mod.load(config, environ={}))
        from sqlmodel import func, select

        from mailbot.store import Ticket

        with app.db.reading() as s:
            tickets = s.exec(select(func.count()).select_from(Ticket)).one()
        flags = server.flags()
        marked = sum(KEYWORD in f for f in flags.values())
        assert tickets == n and marked == n, (tickets, marked, err[-2000:])
        return {
            "n": n,
            "append_s": appended,
            "e2e_s": elapsed,
            "e2e_rate": n / elapsed,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "transport_rate": transport,
        }
    finally:
        server.close()


def spool_only_poller(config: config_mod.Config, app: App) -> Poller:
    """The configured mailbox's poller with nobody processing: it fetches and spools only."""
    [poller] = build_pollers(
        config,
        app.spool,
        lambda _m: lambda _t: None,
        environ={"MAILBOT_IMAP_PASSWORD": PASSWORD},
        settle_wait=0.0,
    )
    return poller


def transport_only(server: Dovecot, folder: Path, batch: int, n: int) -> float:
    """Fetch and spool into a fresh database, nothing processed: the poller's own speed."""
    folder.mkdir()
    config = config_mod.load(config_for(folder, server, batch), environ={})
    app = App.build(config)
    poller = spool_only_poller(config, app)
    started = time.monotonic()
    result = poller.run_once()
    elapsed = time.monotonic() - started
    assert result.taken == n, result
    app.db.dispose()
    return n / elapsed


def idle_latency(rounds: int = 10) -> list[float]:
    server = Dovecot().start()
    folder = Path(tempfile.mkdtemp(prefix="imap-idle-"))
    try:
        config = config_mod.load(config_for(folder, server, 100, "poll_interval = 600"), environ={})
        app = App.build(config)
        poller = spool_only_poller(config, app)
        stop = threading.Event()
        thread = threading.Thread(target=poller.run_forever, args=(stop,), daemon=True)
        thread.start()
        gaps = []
        for i in range(rounds):
            _wait(poller.idling.is_set)
            server.append([support_mail(100_000 + i)])
            appended = time.monotonic()
            _wait(lambda i=i: len(list((folder / "spool").glob("??/*.eml"))) > i)
            gaps.append(time.monotonic() - appended)
        stop.set()
        thread.join(30)
        return gaps
    finally:
        server.close()


def _wait(check: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stalled")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="2000,4000", help="mailbox sizes, comma-separated")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        sys.exit(f"cannot run: {reason}")
    print(f"machine: {os.cpu_count()} cores; batch {args.batch}")
    for n in (int(x) for x in args.n.split(",")):
        r = end_to_end(n, args.batch)
        print(
            f"N={n:>6}: append {r['append_s']:.1f} s; poll --once {r['e2e_s']:.1f} s ="
            f" {r['e2e_rate']:.0f} msg/s end to end (fetch, spool, tickets, mark);"
            f" peak RSS {r['peak_rss_mb']:.0f} MB; fetch+spool alone {r['transport_rate']:.0f}"
            " msg/s",
            flush=True,
        )
    gaps = idle_latency()
    print(
        f"IDLE: APPEND to spooled, {len(gaps)} mails: median {statistics.median(gaps) * 1000:.0f}"
        f" ms, max {max(gaps) * 1000:.0f} ms (poll_interval 600 s)"
    )


if __name__ == "__main__":
    main()
