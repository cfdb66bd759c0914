"""Commands that must never surprise (issue 10), run as an operator runs them, against the
shipped desks and a real SQLite file: a look ahead in time acts on nothing, a release never
repeats a refusal, --no-replies queues nothing, bad input is refused with the exit code that
means it, and a database or relay that cannot be used is one line, never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.conftest import REPO, SHIPPED_DESKS, run, send_all, stdout_of, write_config

NOW = "2026-11-23T10:00+02:00"
"""When the fixed-date mails below arrive; they are taken in then (not as old mail)."""
DATE = "Mon, 23 Nov 2026 10:00:00 +0200"
STRANGER = "stranger@nowhere.test"
"""Known to no CleverBox customer: the desk refuses the mail (unknown_customer) and says so."""


def _mail(sender: str, subject: str, *, date: str = DATE, to: str = "support@cleverbox.test",
          body: str = "Добрый день! Не открывается модуль склада.") -> bytes:  # fmt: skip
    return (
        f"Received: from mx.test by mx.cleverbox.test; {date}\r\n"
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: <{hashlib.sha256(subject.encode()).hexdigest()[:16]}@x.test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The shipped desks; replies go to the outbound maildir tmp_path/sent."""
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=SHIPPED_DESKS)


def _file(config: Path, name: str, raw: bytes) -> str:
    path = config.parent.parent / name
    path.write_bytes(raw)
    return str(path)


def _ingest(config: Path, raw: bytes, *args: str, name: str = "m.eml") -> dict[str, object]:
    line: dict[str, object] = json.loads(
        stdout_of(config, "ingest", *args, _file(config, name, raw))
    )
    return line


def _delivered_to(config: Path, address: str) -> list[str]:
    """The subjects of the mails that left for `address` (every queued reply sent first)."""
    send_all(config)
    folder = config.parent.parent / "sent" / "new"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        if str(mail["To"]) == address:
            found.append(str(mail["Subject"]))
    return found


def _show(config: Path, number: str) -> dict[str, object]:
    shown: dict[str, object] = json.loads(stdout_of(config, "tickets", "show", number, "--json"))
    return shown


# -- 1. a look ahead acts on nothing ---------------------------------------------------------


def test_sla_check_with_a_future_now_is_a_dry_run_unless_forced(config: Path) -> None:
    """`sla check --now <future>` once sent real notices and recorded future events, so the
    real ones never went out. Now it prints them and writes nothing, unless --force."""
    arrived = datetime.now(UTC)  # the system clock: "future" is measured against it
    raw = _mail("olena@vector.test", "Склад не открывается", date=format_datetime(arrived))
    line = _ingest(config, raw)
    assert line["outcome"] == "ticket" and line["resolution_due"]
    before = _show(config, "CBX-000001")
    ahead = (arrived + timedelta(days=60)).isoformat()

    code, out, err = run(config, "sla", "check", "--now", ahead)
    assert code == 0, err
    notices = [json.loads(x) for x in out.splitlines()]
    assert [(n["ticket"], n["kind"], n["dry_run"]) for n in notices] == [
        ("CBX-000001", "sla_breach", True)
    ]
    assert notices[0]["agents"] == ["duty@cleverbox.test"]
    assert "dry run" in err and "later than the system clock" in err and "--force" in err
    assert _show(config, "CBX-000001") == before  # no event, no outbox row
    assert "later than the system clock is a dry run" in " ".join(
        stdout_of(config, "sla", "check", "--help").split()
    )

    # the same look with --force acts: the breach is recorded (and its mail queued for then)
    forced = stdout_of(config, "sla", "check", "--now", ahead, "--force").splitlines()
    assert [(n["kind"], "dry_run" in n) for n in map(json.loads, forced)] == [("sla_breach", False)]
    after = _show(config, "CBX-000001")
    assert "sla_breach" in [e["kind"] for e in after["events"]]  # type: ignore[attr-defined]
    assert stdout_of(config, "sla", "check", "--now", ahead, "--force") == ""  # once


def test_sla_check_dry_run_flag_writes_nothing_at_a_past_now(config: Path) -> None:
    _ingest(config, _mail("olena@vector.test", "Склад"), "--now", NOW)
    before = _show(config, "CBX-000001")
    code, out, err = run(config, "sla", "check", "--dry-run", "--now", "2026-11-26T10:00+02:00")
    assert code == 0 and [json.loads(x)["kind"] for x in out.splitlines()] == ["sla_breach"]
    assert "dry run (--dry-run)" in err
    assert _show(config, "CBX-000001") == before


# -- 2. a release never repeats a refusal ----------------------------------------------------


def test_a_mail_released_twice_gets_its_refusal_once(config: Path) -> None:
    line = _ingest(config, _mail(STRANGER, "Помогите"), "--now", NOW)
    assert (line["outcome"], line["reason"]) == ("quarantined", "unknown_customer")
    entry = str(line["spool_id"])[:10]
    for _ in range(2):
        released = json.loads(stdout_of(config, "quarantine", "release", entry, "--now", NOW))
        assert (released["outcome"], released["reason"]) == ("quarantined", "unknown_customer")
    refusals = _delivered_to(config, STRANGER)
    assert len(refusals) == 1, refusals  # one refusal in all, not one per release
    events = json.loads(stdout_of(config, "quarantine", "show", entry, "--json"))["events"]
    kinds = [e["kind"] for e in events]
    assert kinds.count("reply_queued") == 1 and kinds.count("released") == 2
    held = [e for e in events if e["kind"] == "reply_suppressed"]
    assert len(held) == 2 and all("not sent twice" in e["why"] for e in held)
    assert {e["reply"] for e in held} == {"unknown_customer"}

    # the admin overriding the rule still gets the customer an acknowledgement
    forced = json.loads(stdout_of(config, "quarantine", "release", entry, "--force", "--now", NOW))
    assert forced["outcome"] == "ticket"
    assert len(_delivered_to(config, STRANGER)) == 2  # the one refusal + the ack


# -- 3. --no-replies -------------------------------------------------------------------------


def test_ingest_no_replies_opens_the_ticket_and_queues_nothing(config: Path) -> None:
    line = _ingest(config, _mail("olena@vector.test", "Склад"), "--no-replies", "--now", NOW)
    assert (line["outcome"], line["ticket"]) == ("ticket", "CBX-000001")
    shown = _show(config, "CBX-000001")
    assert shown["replies"] == []  # no ack to the customer, no notice to the agents
    held = [e for e in shown["events"] if e["kind"] == "reply_suppressed"]  # type: ignore[attr-defined]
    assert {e["reply"] for e in held} == {"ack", "agent_notice"}
    assert all("ingest --no-replies" in e["why"] for e in held)
    assert _delivered_to(config, "olena@vector.test") == []


def test_release_no_replies_updates_and_queues_nothing(config: Path) -> None:
    line = _ingest(config, _mail(STRANGER, "Срочно"), "--no-replies", "--now", NOW)
    entry = str(line["spool_id"])[:8]
    released = json.loads(
        stdout_of(config, "quarantine", "release", entry, "--force", "--no-replies", "--now", NOW)
    )
    assert (released["outcome"], released["no_replies"]) == ("ticket", True)
    assert _show(config, str(released["ticket"]))["replies"] == []
    assert _delivered_to(config, STRANGER) == []
    assert _delivered_to(config, "duty@cleverbox.test") == []


# -- 4. input is validated -------------------------------------------------------------------


def test_json_with_csv_is_a_usage_error(config: Path) -> None:
    code, out, err = run(config, "sla", "report", "--desk", "cleverbox", "--json", "--csv")
    assert (code, out) == (2, "") and "give --json or --csv, not both" in err


def _colliding_pair() -> tuple[bytes, bytes]:
    """Two mails whose spool ids (SHA-256 of the bytes) share their first 6 hex digits
    (a birthday search: a few thousand hashes)."""
    seen: dict[str, bytes] = {}
    for n in range(1_000_000):
        raw = _mail(STRANGER, f"Вопрос {n}")
        prefix = hashlib.sha256(raw).hexdigest()[:6]
        if prefix in seen:
            return seen[prefix], raw
        seen[prefix] = raw
    raise AssertionError("no collision")


def test_quarantine_prefix_found_missing_or_ambiguous(config: Path) -> None:
    first, second = _colliding_pair()
    ids = [
        str(_ingest(config, raw, "--now", NOW, name=f"{i}.eml")["spool_id"])
        for i, raw in enumerate((first, second))
    ]
    shared = ids[0][:6]
    assert ids[1].startswith(shared)

    code, out, err = run(config, "quarantine", "show", shared)
    assert code == 2 and out == "" and "ambiguous" in err
    assert ids[0][:16] in err and ids[1][:16] in err  # the candidates, to choose from
    code, out, _ = run(config, "quarantine", "show", ids[1][:12], "--json")
    assert code == 0 and json.loads(out)["id"] == ids[1]
    missing = "deadbeef" if not any(i.startswith("deadbeef") for i in ids) else "beefdead"
    code, _, err = run(config, "quarantine", "show", missing)
    assert code == 66 and f"no quarantine entry starts with '{missing}'" in err
    code, _, err = run(config, "quarantine", "release", missing)
    assert code == 66 and f"no quarantine entry starts with '{missing}'" in err


def test_tickets_log_without_a_package_to_charge_is_refused(config: Path) -> None:
    # CleverBox sells no prepaid hours
    _ingest(config, _mail("olena@vector.test", "Склад"), "--now", NOW)
    code, out, err = run(config, "tickets", "log", "CBX-000001", "--minutes", "30")
    assert (code, out) == (3, "") and "desk cleverbox sells no prepaid hours" in err
    # crmonline does, but this sender is no customer of it
    raw = _mail("someone@else.test", "سلام", to="support@crmonline.test", body="سلام، مشکل داریم")
    line = _ingest(config, raw, "--now", NOW, name="crm.eml")
    assert line["outcome"] == "ticket"
    code, out, err = run(config, "tickets", "log", str(line["ticket"]), "--minutes", "30")
    assert (code, out) == (3, "") and f"ticket {line['ticket']} has no customer" in err
    assert "time_logged" not in [e["kind"] for e in _show(config, str(line["ticket"]))["events"]]  # type: ignore[attr-defined]


# -- 5. one exit code, one meaning -----------------------------------------------------------


def test_refused_by_the_tickets_state_exits_3_not_65(config: Path) -> None:
    _ingest(config, _mail("olena@vector.test", "Склад"), "--now", NOW)
    stdout_of(config, "tickets", "solve", "CBX-000001", "--now", NOW)
    code, out, err = run(config, "tickets", "solve", "CBX-000001", "--now", NOW)
    assert (code, out) == (3, "") and "already solved" in err
    code, _, err = run(config, "tickets", "list", "--desk", "nowhere")
    assert code == 2 and "'nowhere' is no desk; the desks are: cleverbox, cloudempiere" in err


def test_the_readme_and_the_cli_list_the_same_exit_codes() -> None:
    from mailbot.cli import __doc__ as cli_doc

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for code in ("0", "1", "2", "3", "4", "65", "66", "69", "70", "74", "75", "78"):
        assert f"| {code} |" in readme, code
        assert f" {code} " in " ".join(str(cli_doc).split()), code


# -- 7. errors, not tracebacks ---------------------------------------------------------------


def _mailbot(config: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real `python -m mailbot`, as an operator's shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "mailbot", "--config", str(config), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("mailbot: "), done.stderr
    return done.stderr


UNREACHABLE = "postgresql://nobody:s3cret-pw@127.0.0.1:1/x"
"""A PostgreSQL server nobody runs (port 1), with a password that must never be printed."""


@pytest.mark.parametrize(
    "args", [("tickets", "list"), ("quarantine", "list"), ("tickets", "show", "CBX-000001"),
             ("sla", "check"), ("db", "upgrade")],
)  # fmt: skip
def test_an_unreachable_database_is_one_line_and_exit_69(
    config: Path, args: tuple[str, ...]
) -> None:
    started = time.monotonic()
    done = _mailbot(config, *args, MAILBOT_DATABASE_URL=UNREACHABLE)
    assert done.returncode == 69, done.stderr
    line = _one_line(done)
    assert "database postgresql://nobody:***@127.0.0.1:1/x" in line and "s3cret" not in line
    assert time.monotonic() - started < 60  # an upper bound against a hang, not a speed figure


def test_a_sqlite_file_where_no_folder_can_be_made_is_one_line_and_exit_69(config: Path) -> None:
    url = "sqlite:////proc/no-such-folder/mailbot.db"  # /proc refuses new folders, even to root
    mail = _file(config, "m.eml", _mail(STRANGER, "x"))
    for args in (("tickets", "list"), ("ingest", "--now", NOW, mail)):
        done = _mailbot(config, *args, MAILBOT_DATABASE_URL=url)
        assert done.returncode == 69, done.stderr
        assert f"database {url}: cannot be opened or reached" in _one_line(done)


def test_a_malformed_database_url_is_bad_configuration(config: Path) -> None:
    done = _mailbot(config, "tickets", "list", MAILBOT_DATABASE_URL="postgresql://u:pw9@h:port/x")
    assert done.returncode == 78 and "MAILBOT_DATABASE_URL" in _one_line(done)
    assert "pw9" not in done.stderr


@pytest.mark.parametrize(
    "url", ["smtp://mailbot:s3cret-pw@relay.test:notaport", "http://mailbot:s3cret-pw@relay.test",
            "smtp://mailbot:s3cret-pw@relay.test:99999", "smtp://mailbot:s3cret-pw@"],
)  # fmt: skip
def test_a_malformed_relay_url_is_one_line_exit_78_without_the_password(
    config: Path, url: str
) -> None:
    done = _mailbot(config, "check-config", MAILBOT_RELAY_URL=url)
    assert done.returncode == 78
    line = _one_line(done)
    assert "MAILBOT_RELAY_URL" in line and "s3cret" not in line + done.stdout


def test_check_config_json_masks_the_database_password(config: Path) -> None:
    done = _mailbot(config, "check-config", "--json", MAILBOT_DATABASE_URL=UNREACHABLE,
                    MAILBOT_RELAY_URL="smtp://mailbot:s3cret-pw@relay.test:587")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["database"] == "postgresql://nobody:***@127.0.0.1:1/x"
    assert "s3cret" not in done.stdout + done.stderr
