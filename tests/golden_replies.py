"""Every reply mailbot writes for a fixed set of mails, byte for byte: the golden record.

Why: the throughput work (issue 12) rebuilds how replies are made (the `email` API, the
outbox inserts, batches); customers must not see a single byte change. This module runs a fixed
input set through the shipped desks with a clock moved by hand and a fixed agent secret, one
mail at a time (so ticket numbers do not depend on claim order), and prints every outbox row
in the order written. The only thing it rewrites is the random part of the Message-IDs mailbot
makes (`.<20 hex>@`), numbered in order of appearance.

Inputs: the labelled mails of tests/labelled/ (frozen into tests/golden/inputs.json.xz, so
adding labelled mails does not move the record), a follow-up to every fourth ticket, and the
real-world mails of ../shared/corpora when that folder exists (its own record).

    PYTHONPATH=$PWD .venv/bin/python -m tests.golden_replies --check     # what the test does
    PYTHONPATH=$PWD .venv/bin/python -m tests.golden_replies --write     # replies meant to change
    PYTHONPATH=$PWD .venv/bin/python -m tests.golden_replies --freeze-inputs
"""

from __future__ import annotations

import argparse
import base64
import difflib
import json
import lzma
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
INPUTS = GOLDEN / "inputs.json.xz"
CORPORA = REPO.parent / "shared" / "corpora"
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday morning in every desk's zone
STEP = timedelta(minutes=7)
SECRET = "golden-replies-secret-0123456789"
DESK_ADDRESSES = {
    "serwisant": "pomoc@serwisant.test",
    "cloudempiere": "podpora@cloudempiere.test",
    "grsoft": "info@grsoft.test",
    "crmonline": "support@crmonline.test",
    "cleverbox": "support@cleverbox.test",
}
_TOKEN = re.compile(rb"\.([0-9a-f]{20})@")
_BOUNDARY = re.compile(rb"===============[0-9]+==")


def _sender_of(desk_file: dict, customer: str | None, index: int) -> str:
    """The named customer's contact; with none named, a stranger or (every other mail) one of
    the desk's customers in turn, so both the refusals and the acknowledgements are recorded."""
    entries = [e for e in desk_file.get("customers", []) if e.get("contacts") or e.get("domains")]
    chosen = [e for e in entries if e.get("name") == customer]
    if not chosen and (customer is not None or index % 2 == 0 or not entries):
        return f"someone{index}@unknown{index % 7}.test"
    entry = chosen[0] if chosen else entries[index // 2 % len(entries)]
    if entry.get("domains"):
        return f"user{index}@{entry['domains'][0]}"
    return str(entry["contacts"][index % len(entry["contacts"])])


def freeze_inputs() -> int:
    """The labelled mails as raw bytes, with a follow-up to every fourth one."""
    entries = []
    for path in sorted((REPO / "tests" / "labelled").glob("*.toml")):
        desk = path.stem
        desk_file = tomllib.loads((REPO / "config" / "desks" / f"{desk}.toml").read_text())
        mails = tomllib.loads(path.read_text()).get("mail", [])
        for i, raw in enumerate(mails):
            sender = _sender_of(desk_file, raw.get("customer"), i)
            msg = EmailMessage()
            msg["From"] = formataddr((f"Klient {i}", sender))
            msg["To"] = DESK_ADDRESSES[desk]
            msg["Subject"] = raw.get("subject") or ""
            msg["Message-ID"] = f"<golden.{desk}.{i}@{sender.partition('@')[2]}>"
            msg.set_content(raw["body"])
            entries.append({"desk": desk, "raw": base64.b64encode(msg.as_bytes()).decode()})
            if i % 4 == 0:
                follow = EmailMessage()
                follow["From"] = sender
                follow["To"] = DESK_ADDRESSES[desk]
                follow["Subject"] = "Re: " + (raw.get("subject") or "")
                follow["Message-ID"] = f"<golden.{desk}.{i}.re@{sender.partition('@')[2]}>"
                follow["In-Reply-To"] = msg["Message-ID"]
                follow["References"] = msg["Message-ID"]
                follow.set_content("Any news? / Есть новости? / Jakieś wieści?\n\n> earlier\n")
                entries.append({"desk": desk, "raw": base64.b64encode(follow.as_bytes()).decode()})
    GOLDEN.mkdir(exist_ok=True)
    INPUTS.write_bytes(lzma.compress(json.dumps(entries, indent=0).encode()))
    return len(entries)


def labelled_inputs() -> list[tuple[str, bytes]]:
    entries = json.loads(lzma.decompress(INPUTS.read_bytes()))
    return [(e["desk"], base64.b64decode(e["raw"])) for e in entries]


def corpus_inputs() -> list[tuple[str, bytes]]:
    """Each real-world mail (no mbox files), to the desks in turn."""
    files = sorted(
        p
        for p in CORPORA.rglob("*")
        if p.is_file() and p.name != "README.md" and "mimekit-mbox" not in p.parts
    )
    desks = list(DESK_ADDRESSES)
    return [(desks[i % len(desks)], p.read_bytes()) for i, p in enumerate(files)]


def render(inputs: list[tuple[str, bytes]]) -> str:
    """Every outbox row the inputs make, in order, as text (headers and body as sent)."""
    from mailbot import config as config_mod
    from mailbot.pipeline import Worker
    from mailbot.service import App

    folder = Path(tempfile.mkdtemp(prefix="mailbot-golden-"))
    try:
        desks = folder / "desks"
        shutil.copytree(REPO / "config" / "desks", desks)
        (folder / "config").mkdir()
        path = folder / "config" / "mailbot.toml"
        path.write_text(
            f'desks_dir = "{desks}"\ntemplates_dir = "{REPO / "templates"}"\n'
            f'[database]\nurl = "sqlite:///{folder / "m.db"}"\n'
            f'[spool]\npath = "{folder / "spool"}"\n[smtp]\nmax_message_size = 26214400\n'
            f'[outbound]\nmaildir = "{folder / "sent"}"\n[logging]\nlevel = "ERROR"\n'
        )
        now = [START]
        saved = os.environ.get("MAILBOT_AGENT_SECRETS")
        os.environ["MAILBOT_AGENT_SECRETS"] = SECRET
        try:
            app = App.build(config_mod.load(path, environ={}), clock=lambda: now[0])
        finally:
            if saved is None:
                os.environ.pop("MAILBOT_AGENT_SECRETS", None)
            else:
                os.environ["MAILBOT_AGENT_SECRETS"] = saved
        worker = Worker(app.pipeline)
        outcomes: Counter[str] = Counter()
        for desk, raw in inputs:
            now[0] += STEP
            app.spool.accept(raw, "files", rcpt_to=[DESK_ADDRESSES[desk]])
            while items := app.spool.claim(worker.name, 1):
                for outcome in worker.run_items(items):
                    outcomes[f"{outcome.outcome}:{outcome.reason}"] += 1
        if os.environ.get("GOLDEN_VERBOSE"):
            print(dict(outcomes), file=sys.stderr)
        app.db.dispose()
        with sqlite3.connect(folder / "m.db") as db:
            rows = db.execute("SELECT kind, rcpt_to, raw FROM outbox ORDER BY id").fetchall()
        return "".join(_show(kind, rcpt, raw) for kind, rcpt, raw in _renumbered(rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _renumbered(rows: list[tuple[str, str, bytes]]) -> Iterator[tuple[str, str, bytes]]:
    seen: dict[bytes, bytes] = {}

    def number(match: re.Match[bytes]) -> bytes:
        token = match.group(1)
        seen.setdefault(token, f"{len(seen) + 1:020d}".encode())
        return b"." + seen[token] + b"@"

    for kind, rcpt, raw in rows:
        yield kind, rcpt, _BOUNDARY.sub(b"=====BOUNDARY=====", _TOKEN.sub(number, raw))


def _show(kind: str, rcpt: str, raw: bytes) -> str:
    text = raw.decode("ascii", errors="backslashreplace").replace("\r\n", "\u21b5\n")
    return f"=== {kind} to {rcpt}\n{text}\n"


def record_path(name: str) -> Path:
    return GOLDEN / f"{name}.txt.xz"


def sets() -> dict[str, list[tuple[str, bytes]]]:
    found = {"labelled": labelled_inputs()}
    if CORPORA.is_dir():
        found["corpora"] = corpus_inputs()
    return found


def compare(name: str, inputs: list[tuple[str, bytes]]) -> list[str]:
    """The first lines where today's replies differ from the record (empty: identical)."""
    expected = lzma.decompress(record_path(name).read_bytes()).decode()
    actual = render(inputs)
    if actual == expected:
        return []
    diff = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "recorded", "now", lineterm="", n=2
    )
    return list(diff)[:80]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--check", action="store_true")
    action.add_argument("--write", action="store_true")
    action.add_argument("--freeze-inputs", action="store_true")
    args = parser.parse_args()
    if args.freeze_inputs:
        print(f"{freeze_inputs()} inputs frozen into {INPUTS}")
        return 0
    status = 0
    for name, inputs in sets().items():
        if args.write:
            text = render(inputs)
            record_path(name).write_bytes(lzma.compress(text.encode()))
            print(f"{name}: {text.count(chr(10) + '=== ') + 1} replies recorded")
        else:
            diff = compare(name, inputs)
            print(f"{name}: {'identical' if not diff else 'DIFFERENT'}")
            print("\n".join(diff))
            status |= bool(diff)
    return status


if __name__ == "__main__":
    sys.exit(main())
