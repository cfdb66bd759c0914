"""Peak memory and time of `parse` on hostile mail, each case in a fresh process.

    .venv/bin/python benchmarks/parse_memory.py

Cases (issue 10): 25 MB of blank lines (CRLF and LF), 25 MB of one-letter lines, a multipart
of just under MAX_LINES lines, 2.5 million tiny MIME parts, 1,000 nested multiparts, a 0.96 MB
body declared charset=punycode. Prints the process's peak RSS before (imports and the mail
built) and after parsing, and the outcome.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HEAD = b"From: a@example.test\r\nTo: info@grsoft.test\r\nSubject: hostile\r\n"
MB25 = 25 * 1024 * 1024


def build(case: str) -> bytes:
    if case == "blank-crlf":
        return HEAD + b"\r\n" + b"\r\n" * (MB25 // 2)
    if case == "blank-lf":
        return HEAD + b"\r\n" + b"\n" * MB25
    if case == "letter-lines":
        return HEAD + b"\r\n" + b"a\r\n" * (MB25 // 3)
    if case == "parts-2.5M":
        multipart = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        return HEAD + multipart + b"--b\r\n\r\nx\r\n" * 2_500_000 + b"--b--\r\n"
    if case == "multipart-lines":  # just under MAX_LINES: the worst the line-by-line path gets
        multipart = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
        return HEAD + multipart + b"\r\n" * 999_000 + b"--b--\r\n"
    if case == "nested-1000":
        raw = HEAD
        for level in range(1000):
            raw += b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (level, level)
        return raw + b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    if case == "punycode-0.96MB":
        body = (b"xn--" + b"a" * 70 + b"-" + b"b" * 4 + b"\r\n") * 12_000
        return HEAD + b"Content-Type: text/plain; charset=punycode\r\n\r\n" + body
    raise ValueError(case)


CASES = (
    "blank-crlf",
    "blank-lf",
    "letter-lines",
    "multipart-lines",
    "parts-2.5M",
    "nested-1000",
    "punycode-0.96MB",
)


def one(case: str) -> None:
    from mailbot.parse import parse

    raw = build(case)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    started = time.perf_counter()
    try:
        mail = parse(raw, accepted_at=datetime.now(UTC), fallback_charsets=("utf-8", "koi8-r"))
        outcome = f"Mail, text {len(mail.text)} chars, {len(mail.notes)} notes"
    except Exception as exc:  # the outcome is what we report
        outcome = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"{case:<16} {len(raw) / 1e6:6.1f} MB  {seconds:6.2f} s  "
        f"peak RSS {before:5d} -> {peak:5d} MB  {outcome[:90]}"
    )


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        one(sys.argv[2])
        return 0
    root = str(Path(__file__).resolve().parent.parent)
    for case in CASES:
        subprocess.run([sys.executable, __file__, "--case", case], check=True, cwd=root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
