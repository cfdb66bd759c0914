"""`mailbot reprocess`: a whole mailbox through the desks, once, with a summary that adds up.

What an admin checks after reprocessing: one ticket per mail (never one out of many), bodies
as the customers wrote them, a summary whose counts add up to what the source held, and a
second run that reports everything as already taken and changes nothing. --dry-run writes
nothing, --no-replies sends nothing, bad input is reported in its place.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPORA, run, write_config
from tests.dovecot import PASSWORD as IMAP_PASSWORD
from tests.dovecot import Dovecot, running_dovecot
from tests.helpers import message
from tests.test_sources import write_mbox

NOW = "2026-11-20T12:00:00+02:00"
TABLES = ("spool_item", "ticket", "message", "event", "outbox")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot()


def counts(tmp_path: Path) -> dict[str, int]:
    with sqlite3.connect(tmp_path / "m.db") as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def setup(tmp_path: Path, max_size: int = 1 << 20) -> Path:
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", max_size=max_size)


def lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def summary(text: str) -> dict[str, int]:
    """The closing summary's counts, by label."""
    found = {}
    for line in text.splitlines():
        label, _, number = line.strip().rpartition(" ")
        if label and number.isdigit() and line.startswith("  "):
            found[label.strip()] = int(number)
    return found


def support_mail(n: int, body: str, **headers: str) -> bytes:
    """A customer's mail as it sits in an mbox: LF line ends."""
    return message(
        f"Export broken, case {n}",
        body,
        date=f"Fri, 20 Nov 2026 11:{n:02d}:00 +0200",
        message_id=f"<case{n}@vector.test>",
        **headers,
    ).replace(b"\r\n", b"\n")


BODIES = [
    "From the start of the month the export fails.\n>From the log: error 17\n",
    "Hello,\n\nFrom Monday on the report is empty.\n",
    "From olena@vector.test Fri Nov 20 09:00:00 2026\nSubject: not a header, my text\n",
]


def test_mbox_one_ticket_per_mail_bodies_intact_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    config = setup(tmp_path)
    mails = [support_mail(i, body) for i, body in enumerate(BODIES)]
    mails.append(
        support_mail(9, "Any news?\n\nFrom me again.\n", In_Reply_To="<case0@vector.test>").replace(
            b"Subject: Export broken, case 9", b"Subject: Re: Export broken, case 0"
        )
    )
    box = write_mbox(tmp_path / "support.mbox", mails)
    code, out, err = run(config, "reprocess", str(box), "--json", "--now", NOW)
    assert code == 0, out + err
    first = lines(out)
    assert [ln["status"] for ln in first] == ["new", "new", "new", "follow_up"]
    assert [ln["ticket"] for ln in first] == ["CBX-000001", "CBX-000002", "CBX-000003"] * 1 + [
        "CBX-000001"
    ]
    assert all(ln["source"] == str(box) and ln["key"].startswith("#") for ln in first)
    with sqlite3.connect(tmp_path / "m.db") as db:
        stored = db.execute(
            "SELECT body_text FROM message WHERE direction = 'in' ORDER BY id"
        ).fetchall()
    for (text,), body in zip(stored, [*BODIES, "Any news?\n\nFrom me again.\n"], strict=True):
        assert text.strip() == body.strip(), "the body was not given back as written"
    assert "held 4 messages" in err and summary(err)["new tickets"] == 3
    before = counts(tmp_path)
    assert before["outbox"] == 3  # one acknowledgement per new ticket, none for the follow-up

    code, out, err = run(config, "reprocess", str(box), "--json", "--now", NOW)
    assert code == 0, out + err
    again = lines(out)
    assert {ln["status"] for ln in again} == {"already_taken"}
    assert [ln["ticket"] for ln in again] == [ln["ticket"] for ln in first]
    assert summary(err)["already taken"] == 4 and summary(err)["new tickets"] == 0
    assert counts(tmp_path) == before, "a second run wrote something"


def test_maildir_and_a_folder_of_mail_files_in_one_run(tmp_path: Path) -> None:
    config = setup(tmp_path)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1700000000.M1P1.host:2,S").write_bytes(support_mail(1, "in cur\n"))
    (maildir / "new" / "1700000001.M2P1.host").write_bytes(support_mail(2, "in new\n"))
    folder = tmp_path / "exported"
    folder.mkdir()
    (folder / "a.eml").write_bytes(support_mail(3, "a file\n"))
    (folder / "b.eml").write_bytes(support_mail(4, "another file\n"))
    code, out, _err = run(config, "reprocess", str(maildir), str(folder), "--now", NOW)
    assert code == 0, out
    assert "2 sources held 4 messages:" in out
    assert summary(out)["new tickets"] == 4 and summary(out)["= accounted for"] == 4
    assert counts(tmp_path)["ticket"] == 4


def test_dry_run_writes_nothing_and_says_what_would_happen(tmp_path: Path) -> None:
    config = setup(tmp_path)
    box = write_mbox(tmp_path / "support.mbox", [support_mail(i, b) for i, b in enumerate(BODIES)])
    code, out, err = run(config, "reprocess", str(box), "--dry-run", "--json", "--now", NOW)
    assert code == 0, out + err
    assert [(ln["status"], ln["dry_run"]) for ln in lines(out)] == [("new", True)] * 3
    assert "dry run: nothing was written or sent" in err
    assert counts(tmp_path) == dict.fromkeys(TABLES, 0)
    assert not list((tmp_path / "spool").glob("??/*.eml"))


def test_no_replies_updates_tickets_and_queues_nothing(tmp_path: Path) -> None:
    config = setup(tmp_path)
    box = write_mbox(tmp_path / "support.mbox", [support_mail(i, b) for i, b in enumerate(BODIES)])
    code, out, _err = run(config, "reprocess", str(box), "--no-replies", "--now", NOW)
    assert code == 0, out
    assert "--no-replies: tickets updated, no automatic reply queued" in out
    rows = counts(tmp_path)
    assert (rows["ticket"], rows["outbox"]) == (3, 0)
    with sqlite3.connect(tmp_path / "m.db") as db:
        held_back = db.execute(
            "SELECT ticket_id, detail FROM event WHERE kind = 'reply_suppressed'"
        ).fetchall()
    assert len(held_back) == 3 and all(ticket for ticket, _ in held_back)
    assert all("--no-replies" in json.loads(detail)["why"] for _, detail in held_back)


def test_since_and_until_filter_by_arrival(tmp_path: Path) -> None:
    config = setup(tmp_path)
    maildir = tmp_path / "Maildir"
    (maildir / "cur").mkdir(parents=True)
    for n, hour in enumerate((8, 10, 12)):
        path = maildir / "cur" / f"mail{n}:2,S"
        path.write_bytes(support_mail(n, f"sent at {hour}\n"))
        when = 1_795_564_800 + hour * 3600  # 2026-11-25 00:00 UTC + hour
        os.utime(path, (when, when))
    code, out, _err = run(
        config,
        "reprocess",
        str(maildir),
        "--since",
        "2026-11-25T09:00:00+00:00",
        "--until",
        "2026-11-25T11:00:00+00:00",
        "--json",
        "--now",
        NOW,
    )
    assert code == 0, out
    taken = {ln["key"]: ln["status"] for ln in lines(out)}
    assert taken == {
        "cur/mail0:2,S": "outside_window",
        "cur/mail1:2,S": "new",
        "cur/mail2:2,S": "outside_window",
    }
    assert counts(tmp_path)["ticket"] == 1


def test_bad_input_is_reported_in_its_place_and_the_rest_taken(tmp_path: Path) -> None:
    config = setup(tmp_path, max_size=4096)
    good = [support_mail(i, f"text {i}\n") for i in range(3)]
    big = support_mail(7, "y" * 10_000 + "\n")
    whole = write_mbox(tmp_path / "w.mbox", [good[0], big, good[1], good[2]]).read_bytes()
    box = tmp_path / "support.mbox"
    box.write_bytes(whole[: whole.rindex(b"text 2")])  # truncated inside the last body
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "ok.eml").write_bytes(support_mail(5, "fine\n"))
    (folder / "lost.eml").symlink_to(tmp_path / "nowhere.eml")
    code, out, err = run(config, "reprocess", str(box), str(folder), "--json", "--now", NOW)
    assert code == 65, err
    statuses = [(Path(ln["source"]).name, ln["status"]) for ln in lines(out)]
    assert statuses == [
        ("support.mbox", "new"),
        ("support.mbox", "oversized"),
        ("support.mbox", "new"),
        ("support.mbox", "new"),  # the truncated one: its headers are whole
        ("files", "unreadable"),
        ("files", "new"),
    ]
    refused = [ln for ln in lines(out) if ln["outcome"] == "refused"]
    assert "the limit is 4096" in refused[0]["detail"]
    assert "cannot read" in refused[1]["detail"]
    got = summary(err)
    assert (got["oversized"], got["unreadable"], got["= accounted for"]) == (1, 1, 6)


def test_ingest_of_an_mbox_or_a_folder_never_makes_one_ticket(tmp_path: Path) -> None:
    config = setup(tmp_path)
    box = write_mbox(tmp_path / "support.mbox", [support_mail(i, b) for i, b in enumerate(BODIES)])
    code, out, err = run(config, "ingest", str(box), "--now", NOW)
    assert code == 0, out + err
    taken = lines(out)
    assert [ln["ticket"] for ln in taken] == ["CBX-000001", "CBX-000002", "CBX-000003"]
    assert all(ln["file"] == str(box) for ln in taken)
    folder = tmp_path / "mails"
    folder.mkdir()
    (folder / "x.eml").write_bytes(support_mail(8, "from a folder\n"))
    code, out, err = run(config, "ingest", str(folder), "--now", NOW)
    assert code == 0, out + err
    assert [ln["ticket"] for ln in lines(out)] == ["CBX-000004"]


def test_an_imap_folder_is_reprocessed_left_untouched_and_a_second_run_takes_nothing(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    config = setup(tmp_path)
    mails = [support_mail(i, body).replace(b"\n", b"\r\n") for i, body in enumerate(BODIES)]
    dovecot.append(mails, when=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    before = dovecot.flags()
    env = {"MAILBOT_IMAP_PASSWORD": IMAP_PASSWORD}
    code, out, err = run(config, "reprocess", dovecot.url(), "--json", "--now", NOW, env=env)
    assert code == 0, out + err
    first = lines(out)
    assert [ln["status"] for ln in first] == ["new"] * 3
    assert [ln["arrived_at"] for ln in first] == ["2026-11-20T09:30:00+00:00"] * 3
    assert all(ln["key"].startswith("uid:") for ln in first)
    assert dovecot.flags() == before  # read-only: no \Seen, no keyword, nothing moved
    assert counts(tmp_path)["ticket"] == 3
    again = counts(tmp_path)
    code, out, err = run(config, "reprocess", dovecot.url(), "--json", "--now", NOW, env=env)
    assert code == 0, out + err
    assert [ln["status"] for ln in lines(out)] == ["already_taken"] * 3
    assert counts(tmp_path) == again


def test_an_imap_folder_with_a_wrong_password_says_so_without_the_password(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    config = setup(tmp_path)
    dovecot.append([support_mail(1, "hello\n")])
    secret = tmp_path / "secret"
    secret.write_text("not-the-password-42\n")
    code, out, err = run(
        config, "reprocess", dovecot.url(), "--password-file", str(secret), "--now", NOW
    )
    assert code == 69, out + err
    assert "login refused" in err
    assert "not-the-password-42" not in out + err
    assert counts(tmp_path)["spool_item"] == 0


def test_an_imap_url_holding_a_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = setup(tmp_path)
    code, _out, err = run(config, "reprocess", "imap://support:pw-7@imap.example.test/INBOX")
    assert code == 66
    assert "holds a password" in err and "pw-7" not in err


@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"no corpora at {CORPORA}")
@pytest.mark.timeout(600)
def test_the_corpora_in_one_run_add_up_and_a_second_run_takes_nothing(tmp_path: Path) -> None:
    config = setup(tmp_path, max_size=25 << 20)
    folders = sorted(str(p) for p in CORPORA.iterdir() if p.is_dir())
    files = [p for p in CORPORA.rglob("*") if p.is_file() and p.parent != CORPORA]
    code, out, err = run(config, "reprocess", *folders, "--desk", "grsoft", "--json", "--now", NOW)
    assert code == 0, err[-3000:]
    first = lines(out)
    got = summary(err)
    # four mbox files hold 38 messages (3 + 4 + 29 + 2); every other file is one message
    assert len(first) == len(files) - 4 + 38 == got["= accounted for"]
    assert f"held {len(first)} messages" in err
    assert got["new tickets"] + got["follow-ups"] > 300
    assert {ln["status"] for ln in first} <= {"new", "follow_up", "quarantined", "dropped",
                                              "duplicate", "already_taken"}  # fmt: skip
    for ln in first:
        if ln["outcome"] != "ticket":
            assert ln["reason"] and ln["detail"], ln
    before = counts(tmp_path)
    code, out, err = run(config, "reprocess", *folders, "--desk", "grsoft", "--json", "--now", NOW)
    assert code == 0, err[-3000:]
    assert {ln["status"] for ln in lines(out)} == {"already_taken"}
    assert summary(err)["already taken"] == len(first)
    assert counts(tmp_path) == before
