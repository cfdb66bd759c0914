"""How long a hostile or merely slow mail holds up the mail behind it in `mailbot serve`.

Starts `mailbot serve` (one worker process, the foundation desks, a fresh temporary folder)
with the given `worker.item_time_limit` and `spool.max_attempts`, sends one slow mail and
then `--behind` plain mails, and prints, per kind of slow mail:

* how long after it was sent each mail behind it became a ticket (max and median),
* how long after it was sent the slow mail had its outcome (a ticket, or quarantined after
  the time limit), and with what reason/detail.

Slow mails: `punycode` (a text part declared charset=punycode holding `--size` bytes of
"a": Python's punycode decoder is worse than quadratic, 17 s for 1 MB, ~2 min for 3 MB)
and `scans` (`--pages` attachments of 20 kB: legitimate, just slow to parse and sniff,
~4 s for 400).

Run:
    .venv/bin/python benchmarks/stalled_worker.py --limit 1 --attempts 2
    .venv/bin/python benchmarks/stalled_worker.py --limit 30 --kinds punycode
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailbot import config as config_mod  # noqa: E402
from tests.conftest import wait_until, write_config  # noqa: E402
from tests.servers import Serve  # noqa: E402
from tests.test_serve_robustness import (  # noqa: E402
    _is_finished,
    _is_ticket,
    _plain,
    _punycode,
    _query,
    _scans,
    _send,
    _spool_id,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=1.0, help="worker.item_time_limit")
    parser.add_argument("--attempts", type=int, default=2, help="spool.max_attempts")
    parser.add_argument("--behind", type=int, default=5, help="plain mails after the slow one")
    parser.add_argument("--size", type=int, default=3_000_000, help="punycode bytes")
    parser.add_argument("--pages", type=int, default=400, help="attachments of the scans")
    parser.add_argument("--kinds", default="punycode,scans")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mailbot-stall-"))
    path = write_config(
        folder,
        f"sqlite:///{folder / 'mailbot.db'}",
        max_size=64 * 1024 * 1024,
        extra=f"[worker]\nprocesses = 1\nitem_time_limit = {args.limit}\n",
    )
    path.write_text(
        path.read_text().replace("[spool]\n", f"[spool]\nmax_attempts = {args.attempts}\n", 1)
    )
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, folder / "serve.log").start()
    print(f"item_time_limit {args.limit:g} s, max_attempts {args.attempts}, folder {folder}")
    try:
        for kind in args.kinds.split(","):
            slow = _punycode(args.size) if kind == "punycode" else _scans(args.pages)
            sent = time.monotonic()
            _send(port, slow)
            behind = {}
            for n in range(args.behind):
                subject = f"behind {kind} {n}"
                _send(port, _plain(subject))
                behind[subject] = time.monotonic()
            waited = []
            for subject, at in behind.items():
                wait_until(subject, lambda s=subject: _is_ticket(serve, s), args.timeout)
                waited.append(time.monotonic() - at)
            spool_id = _spool_id(slow)
            wait_until(kind, lambda i=spool_id: _is_finished(serve, i), args.timeout)
            took = time.monotonic() - sent
            [(outcome, reason, detail)] = _query(
                serve, "SELECT outcome, reason, detail FROM spool_item WHERE id = ?", spool_id
            )
            print(
                f"{kind} ({len(slow) / 1e6:.1f} MB): mail behind it a ticket after "
                f"max {max(waited):.1f} s, median {statistics.median(waited):.1f} s; "
                f"its own outcome after {took:.1f} s: {outcome} ({reason or '-'}: {detail or '-'})"
            )
    finally:
        code = serve.terminate()
        print(f"serve stopped with {code}")
    if code == 0:
        shutil.rmtree(folder, ignore_errors=True)  # a worker may still be removing its -shm


if __name__ == "__main__":
    main()
