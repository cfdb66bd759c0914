"""Every real-world mail in ../shared/corpora ends as ticket, drop or quarantine with a reason.

Run through the real command (`mailbot ingest`, a subprocess) so that a crash anywhere, in any
library, shows as a missing line or a non-zero exit. The mbox folder is for mailbox import and
is left out here (one mbox file is many messages, not one).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from mailbot import config as config_mod
from tests.conftest import CORPORA, write_config
from tests.servers import Catcher, Serve, mailbot_cli

pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA}")


def _corpus_files() -> list[Path]:
    return sorted(
        p
        for p in CORPORA.rglob("*")
        if p.is_file() and p.name != "README.md" and "mimekit-mbox" not in p.parts
    )


def test_every_corpus_mail_gets_an_outcome_with_a_reason(tmp_path: Path) -> None:
    files = _corpus_files()
    assert len(files) > 450
    config_path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", max_size=25 << 20)
    done = mailbot_cli(config_path, "ingest", "--desk", "grsoft", *map(str, files))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files], "a file got no line"
    outcomes = Counter(line["outcome"] for line in lines)
    assert set(outcomes) <= {"ticket", "quarantined", "dropped"}, outcomes
    for line in lines:
        if line["outcome"] == "ticket":
            assert line["ticket"].startswith("GRS-"), line
        else:
            assert line["reason"] and line["detail"], line
        raw = Path(line["file"]).read_bytes()
        assert line["spool_id"] == hashlib.sha256(raw).hexdigest()
        kept = tmp_path / "spool" / line["spool_id"][:2] / f"{line['spool_id']}.eml"
        assert kept.read_bytes() == raw, "raw bytes not kept"
    by_name = {Path(line["file"]).name: line for line in lines}
    # the hard cases the corpora README names, each with the outcome a person expects
    assert by_name["enclosed-endless.eml"]["outcome"] in {"ticket", "quarantined"}
    bounces = [ln for name, ln in by_name.items() if "bounce" in name.lower()]
    assert bounces and all(b["outcome"] == "dropped" for b in bounces), bounces
    assert outcomes["ticket"] > 300
    print(f"\n{len(lines)} corpus mails: {dict(outcomes)}")
    reasons = Counter((ln["outcome"], ln["reason"]) for ln in lines if ln["reason"])
    print(dict(reasons))


def test_ingesting_the_same_file_again_is_one_item(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    sample = _corpus_files()[0]
    first = json.loads(mailbot_cli(config_path, "ingest", "--desk", "grsoft", str(sample)).stdout)
    again = json.loads(mailbot_cli(config_path, "ingest", "--desk", "grsoft", str(sample)).stdout)
    assert first["spool_id"] == again["spool_id"]
    assert (again["outcome"], again["ticket"]) == (first["outcome"], first["ticket"])


def test_mail_for_no_desk_and_unreadable_files(tmp_path: Path) -> None:
    config_path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    elsewhere = CORPORA / "cpython-stdlib" / "msg_01.txt"
    missing = tmp_path / "nope.eml"
    done = mailbot_cli(config_path, "ingest", str(elsewhere), str(missing))
    assert done.returncode == 66
    routed, unreadable = (json.loads(line) for line in done.stdout.splitlines())
    assert (routed["outcome"], routed["reason"]) == ("quarantined", "no_desk")
    assert unreadable["outcome"] == "refused" and "cannot read" in unreadable["reason"]


def test_bad_mail_over_smtp_never_holds_up_the_next(tmp_path: Path) -> None:
    """Random bytes, a recursion bomb and a KOI8-R raw 8-bit mail, then a good one: all decided."""
    catcher = Catcher(tmp_path / "caught")
    config_path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        relay=("127.0.0.1", catcher.port),
        max_size=8 << 20,
    )
    port = config_mod.load(config_path, environ={}).settings.smtp.port
    serve = Serve(config_path, port, tmp_path / "serve.log").start()
    # files keep their LF line ends; on the wire an MTA sends CRLF
    bomb = re.sub(rb"\r?\n", b"\r\n", (CORPORA / "flanker" / "enclosed-endless.eml").read_bytes())
    koi8 = (
        "From: Иван <ivanov@romashka.test>\r\nTo: info@grsoft.test\r\n"
        "Subject: Не синхронизируется база\r\n\r\nДобрый день, база не синхронизируется.\r\n"
    ).encode("koi8-r")
    good = b"From: olena@vector.test\r\nTo: support@cleverbox.test\r\nSubject: ok\r\n\r\nfine\r\n"
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            noise = os.urandom(8192).replace(b"\r", b"").replace(b"\n", b"")
            garbage = b"\r\n".join(noise[i : i + 200] for i in range(0, len(noise), 200))
            for raw in (garbage, bomb, koi8, good):
                smtp.sendmail("x@vector.test", ["info@grsoft.test"], raw)
        replies = catcher.wait_for(3, timeout=20)
    finally:
        assert serve.terminate() == 0
        catcher.stop()
    subjects = sorted(str(r["Subject"]) for r in replies)
    assert "[GRS-000002] Не синхронизируется база" in subjects  # KOI8-R read without a charset
    assert any(s.endswith("] ok") for s in subjects)
    listed = json.loads(mailbot_cli(config_path, "tickets", "list", "--json").stdout)
    assert len(listed) == 3
    time.sleep(0.2)
    assert len(catcher.messages()) == 3
    with sqlite3.connect(tmp_path / "m.db") as db:
        states = db.execute("SELECT state, outcome, reason FROM spool_item").fetchall()
    assert sorted(states, key=str) == sorted(
        [("done", "ticket", None)] * 3 + [("quarantined", "quarantined", "unparseable")], key=str
    )
