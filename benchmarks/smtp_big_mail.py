"""The SMTP receiver's memory and time for one big mail of blank lines (issue 10).

Starts `mailbot serve` on a fresh temporary folder (worker processes as configured: the
receiver is serve's own process), sends one mail whose body is `--mb` megabytes of empty
lines, and prints serve's peak RSS (VmHWM of the serve process, not its workers) before and
after, and the time from sending to `250`. Serve and its workers are then killed: the
worker's parse of such a mail is not what is measured here.

Run:
    .venv/bin/python benchmarks/smtp_big_mail.py --mb 25
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import mailbot_cli
from tests.test_smtp_limits import _config, _peak_rss_mb, _raw_mail, _send, _start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=25, help="megabytes of blank lines")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mailbot-bigmail-"))
    path = _config(folder, "", max_size=(args.mb + 2) * 1024 * 1024)
    upgraded = mailbot_cli(path, "db", "upgrade")
    if upgraded.returncode != 0:
        sys.exit(upgraded.stderr)
    serve = _start(path, folder / "serve.log")
    assert serve.proc is not None
    try:
        time.sleep(2)
        before = _peak_rss_mb(serve.proc.pid)
        raw = _raw_mail("big-mail", b"\r\n" * (args.mb * 1024 * 1024 // 2))
        started = time.monotonic()
        _send(serve.port, raw, timeout=600)
        took = time.monotonic() - started
        after = _peak_rss_mb(serve.proc.pid)
    finally:
        tree = psutil.Process(serve.proc.pid)
        for process in [*tree.children(recursive=True), tree]:
            process.kill()
    print(f"{args.mb} MB of blank lines: 250 after {took:.2f} s")
    print(f"serve VmHWM: {before:.0f} MB before, {after:.0f} MB after")


if __name__ == "__main__":
    main()
