"""Fuzzing `parse` and the rules: real mails from ../shared/corpora, damaged the ways mail is.

Hypothesis draws a corpus mail and a few mutations (byte flips, duplicated headers,
truncation, swapped charsets, damaged boundaries, hostile snippets, splices of another mail),
then `check` runs parse and a shipped desk's rules on it. A finding is anything but a Mail or
the documented UnparseableMail: another exception (also one parse had to turn into
"parser failure"), a run over HANG_SECONDS, or memory growing by more than MEMORY_MB.

Used by tests/test_fuzz.py (a quick smoke in `make test`) and benchmarks/fuzz.py (long runs).
"""

from __future__ import annotations

import functools
import re
import resource
import signal
import sys
import time
import tomllib
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn

from mailbot.config import DeskSettings
from mailbot.errors import UnparseableMail
from mailbot.parse import Mail, parse
from mailbot.rules import Context, History, Rule, load_rules, run

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO.parent / "shared" / "corpora"
DESKS = REPO / "config" / "desks"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SEED_MAX_BYTES = 512 * 1024
HANG_SECONDS = 5
MEMORY_MB = 300

CHARSETS = (
    "utf-8", "us-ascii", "koi8-r", "windows-1251", "gb2312", "shift_jis", "iso-2022-jp",
    "utf-7", "utf-16", "utf-32", "big5", "euc-kr", "punycode", "idna", "unicode-escape",
    "raw-unicode-escape", "rot13", "zlib", "base64_codec", "uu", "hex", "bz2", "x-unknown",
    '"utf-8', "3Dutf-8", "", "utf8mb4", "iso-8859-8-i", "hz-gb-2312", "cp65001",
)  # fmt: skip
SNIPPETS = (
    b"\r\n\r\n",
    b"\n",
    b"\x00",
    b"\xff\xfe\xfd",
    b"From: =?utf-8?q?Support:_Team?= <a@b.test>\r\n",
    b"From: =?utf-8?q?a<b>,c@d:?= <x@y.test>\r\n",
    b"Subject: =?gb2312?B?ufjT2reixrG1xM7KzOI=?=\r\n",
    b"=?utf-8?b?" + b"A" * 3000 + b"?=",
    b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n",
    b"--zz\r\n\r\n--zz--\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n",
    b"Content-Disposition: attachment; filename*=utf-8''%E2%80%AE..%2F..%2Fx.exe\r\n",
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n",
    b"Received: from x by y; Thu, 1 Jan 1970 00:00:00 +0000\r\n",
    b"In-Reply-To: <" + b"a" * 2000 + b">\r\n",
    b"x" * 5000,
    b"\r\n" * 2000,
    b"=\r\n" * 500,
)


@dataclass(frozen=True)
class Desk:
    settings: DeskSettings
    rules: tuple[Rule, ...]


@functools.cache
def seeds() -> tuple[bytes, ...]:
    files = sorted(
        p
        for p in CORPORA.rglob("*")
        if p.is_file() and p.name != "README.md" and "mimekit-mbox" not in p.parts
    )
    return tuple(b for b in (p.read_bytes() for p in files) if 0 < len(b) <= SEED_MAX_BYTES)


@functools.cache
def desks() -> tuple[Desk, ...]:
    found = []
    for path in sorted(DESKS.glob("*.toml")):
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
        raw.setdefault("name", path.stem)
        settings = DeskSettings.model_validate(raw)
        found.append(Desk(settings, load_rules(settings, path)))
    return tuple(found)


# -- mutations ---------------------------------------------------------------------------


def _flip(draw: DrawFn, raw: bytearray) -> bytearray:
    for _ in range(draw(st.integers(1, 16))):
        if raw:
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return raw


def _header_lines(raw: bytes) -> list[tuple[int, int]]:
    end = raw.find(b"\n\n")
    end2 = raw.find(b"\r\n\r\n")
    ends = [e for e in (end, end2) if e >= 0]
    head_end = min(ends) if ends else len(raw)
    return [(m.start(), m.end()) for m in re.finditer(rb"[^\r\n]*\r?\n", raw[:head_end])]


def _draw_int(draw: DrawFn, low: int, high: int) -> int:
    return draw(st.integers(low, high))


def mutate(draw: DrawFn, seed: bytes, other: bytes, kind: str) -> bytes:
    raw = bytearray(seed)
    size = len(raw)
    if kind == "flip":
        return bytes(_flip(draw, raw))
    if kind == "truncate":
        return bytes(raw[: _draw_int(draw, 0, size)])
    if kind == "dup_header":
        lines = _header_lines(bytes(raw))
        if not lines:
            return bytes(raw)
        start, end = lines[_draw_int(draw, 0, len(lines) - 1)]
        times = _draw_int(draw, 1, 300)
        return bytes(raw[:end] + raw[start:end] * times + raw[end:])
    if kind == "charset":
        charset = draw(st.sampled_from(CHARSETS)).encode()
        found = list(re.finditer(rb"charset=\"?[^\s\";]*\"?", bytes(raw), re.IGNORECASE))
        if not found:
            return bytes(raw)
        match = found[_draw_int(draw, 0, len(found) - 1)]
        return bytes(raw[: match.start()] + b"charset=" + charset + raw[match.end() :])
    if kind == "boundary":
        found = list(re.finditer(rb"^--[^\r\n]*$", bytes(raw), re.MULTILINE))
        if not found:
            return bytes(raw)
        match = found[_draw_int(draw, 0, len(found) - 1)]
        how = _draw_int(draw, 0, 3)
        if how == 0:  # cut the delimiter short
            return bytes(raw[: match.end() - 2] + raw[match.end() :])
        if how == 1:  # drop it
            return bytes(raw[: match.start()] + raw[match.end() :])
        if how == 2:  # repeat it
            line = raw[match.start() : match.end()] + b"\n"
            return bytes(
                raw[: match.start()] + line * _draw_int(draw, 2, 2000) + raw[match.start() :]
            )
        return bytes(
            raw[: match.start()] + b"--" + raw[match.start() : match.end()] + raw[match.end() :]
        )
    if kind == "insert":
        snippet = draw(st.sampled_from(SNIPPETS))
        at = _draw_int(draw, 0, size)
        return bytes(raw[:at] + snippet + raw[at:])
    if kind == "splice":
        start = _draw_int(draw, 0, len(other))
        end = _draw_int(draw, start, len(other))
        at = _draw_int(draw, 0, size)
        return bytes(raw[:at] + other[start:end] + raw[at:])
    if kind == "line_ends":
        how = _draw_int(draw, 0, 2)
        if how == 0:
            return bytes(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if how == 1:
            return bytes(raw).replace(b"\r\n", b"\n")
        return bytes(raw).replace(b"\n", b"\r")
    raise ValueError(kind)


KINDS = ("flip", "truncate", "dup_header", "charset", "boundary", "insert", "splice", "line_ends")


@st.composite
def hostile_mails(draw: DrawFn) -> tuple[int, bytes]:
    """(desk index, raw bytes): a corpus mail after one to four mutations."""
    pool = seeds()
    raw = pool[_draw_int(draw, 0, len(pool) - 1)]
    other = pool[_draw_int(draw, 0, len(pool) - 1)]
    for kind in draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4)):
        raw = mutate(draw, raw, other, kind)
    return _draw_int(draw, 0, len(desks()) - 1), raw


# -- the check ---------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that parse's own catch-all cannot swallow it."""


@contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def ring(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass(frozen=True)
class Finding:
    kind: str  # exception, hang, memory
    signature: str  # what makes two findings the same bug
    detail: str


def check(desk: Desk, raw: bytes) -> Finding | None:
    """Parse and judge one mail as the pipeline would; a Finding when it goes wrong."""
    before = _peak_mb()
    started = time.perf_counter()
    try:
        with _alarm(HANG_SECONDS):
            try:
                mail = parse(
                    raw,
                    accepted_at=NOW,
                    arrival_from_headers=True,
                    fallback_charsets=desk.settings.fallback_charsets,
                    languages=(desk.settings.language, *desk.settings.languages),
                )
            except UnparseableMail as exc:
                cause = exc.__cause__
                if cause is not None and not isinstance(cause, RecursionError | MemoryError):
                    return _finding("exception", cause)
                return None
            _judge(desk, mail)
    except Hang:
        return Finding("hang", "hang", f"over {HANG_SECONDS} s")
    except Exception as exc:  # what the fuzzer is here to find
        return _finding("exception", exc)
    grown = _peak_mb() - before
    if grown > MEMORY_MB:
        seconds = time.perf_counter() - started
        return Finding("memory", "memory", f"peak RSS grew {grown:.0f} MB ({seconds:.1f} s)")
    return None


def _judge(desk: Desk, mail: Mail) -> None:
    customer, identified_by = desk.settings.customer_for(mail.from_addr)
    context = Context(
        desk=desk.settings,
        envelope_from=mail.from_addr,
        now=NOW,
        customer=customer,
        identified_by=identified_by,
        mail_language=desk.settings.language,
        history=History(),
    )
    run(desk.rules, mail, context)


def _finding(kind: str, exc: BaseException) -> Finding:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/mailbot/" in f.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    text = "".join(traceback.format_exception(exc))[-3000:]
    return Finding(kind, f"{type(exc).__name__} at {where}", text)
