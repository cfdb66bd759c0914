"""`mailbot serve` under hostile mail and broken surroundings (issue 10, "serve can hang").

A mail that takes too long is stopped at `worker.item_time_limit` and quarantined after
`spool.max_attempts`, while the mail behind it goes on; a database that refuses writes does
not leave mail leased for the length of a lease; an error in serve's upkeep is logged and
serve goes on; and serve refuses to start, in one line and with the right exit code, when
its port, database or spool folder cannot be used, leaving no worker behind.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import psutil
import pytest

from mailbot import config as config_mod
from mailbot.pipeline import Worker
from mailbot.service import App
from mailbot.store import SpoolItems
from tests.conftest import free_port, wait_until, write_config
from tests.servers import Serve, mailbot_cli

TIME_LIMIT = 0.5
"""The test serve's `worker.item_time_limit`. A plain mail takes 15 ms (40 ms as a new
worker's first, which compiles its queries); the 600 scans take 1.5 s on an idle machine."""

MAX_ATTEMPTS = 2


def _limited_config(folder: Path, listen: str | None = None) -> Path:
    """A serve whose workers get TIME_LIMIT seconds per mail and MAX_ATTEMPTS tries."""
    path = write_config(
        folder,
        f"sqlite:///{folder / 'mailbot.db'}",
        listen=listen,
        max_size=30 * 1024 * 1024,
        extra=f"[worker]\nprocesses = 1\nitem_time_limit = {TIME_LIMIT}\n",
    )
    text = path.read_text().replace("[spool]\n", f"[spool]\nmax_attempts = {MAX_ATTEMPTS}\n", 1)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    folder = tmp_path_factory.mktemp("limited")
    path = _limited_config(folder)
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, folder / "serve.log").start()
    yield serve
    if serve.alive():
        assert serve.terminate() == 0, serve.log.read_text()[-3000:]


def _send(port: int, raw: bytes, to: str = "support@cleverbox.test") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        assert smtp.sendmail("sender@example.test", [to], raw) == {}


def _plain(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "olena@vector.test"
    message["To"] = "support@cleverbox.test"
    message["Subject"] = subject
    message.set_content("Добрый день! Принтер снова не печатает.")
    return message.as_bytes(policy=policy.SMTP)


def _punycode(size: int) -> bytes:
    """A small mail whose text part claims charset=punycode: Python's punycode decoder is
    worse than quadratic, so `size` bytes of "a" hold a decoder for minutes. Base64 keeps the
    lines short, as any mailer would send them, and hands the decoder one long string."""
    body = base64.encodebytes(b"a" * size).replace(b"\n", b"\r\n")
    return (
        b"From: mallory@example.test\r\nTo: support@cleverbox.test\r\n"
        b"Subject: punycode\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=punycode\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body
    )


def _scans(pages: int) -> bytes:
    """A real-looking mail that is merely big: `pages` attachments of 20 kB (27 kB each in
    base64). Each part is parsed and sniffed, which adds up to seconds: past TIME_LIMIT."""
    message = EmailMessage()
    message["From"] = "archive@vector.test"
    message["To"] = "support@cleverbox.test"
    message["Subject"] = "the scans you asked for"
    message.set_content("All pages attached.")
    for page in range(pages):
        data = (f"page {page} of the contract\n".encode() * 1000)[:20_000]
        message.add_attachment(
            data, maintype="application", subtype="octet-stream", filename=f"page{page}.dat"
        )
    return message.as_bytes(policy=policy.SMTP)


def _spool_id(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()


def _query(serve: Serve, sql: str, *args: str) -> list[tuple[str, ...]]:
    """Read serve's SQLite file directly: cheap enough to poll (a CLI call is a process)."""
    with sqlite3.connect(serve.config_path.parent.parent / "mailbot.db") as db:
        return db.execute(sql, args).fetchall()


def _is_ticket(serve: Serve, subject: str) -> bool:
    return bool(_query(serve, "SELECT 1 FROM ticket WHERE subject = ?", subject))


def _is_quarantined(serve: Serve, spool_id: str) -> bool:
    return bool(
        _query(serve, "SELECT 1 FROM spool_item WHERE id = ? AND state = 'quarantined'", spool_id)
    )


def _is_finished(serve: Serve, spool_id: str) -> bool:
    return bool(
        _query(serve, "SELECT 1 FROM spool_item WHERE id = ? AND state <> 'received'", spool_id)
    )


def _ticket_subjects(serve: Serve) -> list[str]:
    listed = mailbot_cli(serve.config_path, "tickets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [ticket["subject"] for ticket in json.loads(listed.stdout)]


def _quarantined(serve: Serve, spool_id: str) -> dict[str, str] | None:
    listed = mailbot_cli(serve.config_path, "quarantine", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return next((e for e in json.loads(listed.stdout) if e["id"] == spool_id), None)


def _workers_of(serve: Serve) -> list[psutil.Process]:
    assert serve.proc is not None
    return psutil.Process(serve.proc.pid).children()


def _good_mail_is_a_ticket_within_seconds(serve: Serve, subject: str) -> None:
    _send(serve.port, _plain(subject))
    # seconds: the time limit, then a worker's start; never the slow mail's own time
    wait_until(f"{subject!r} becomes a ticket", lambda: _is_ticket(serve, subject), 30)
    assert subject in _ticket_subjects(serve)


def test_a_mail_that_stalls_its_worker_holds_up_the_next_one_for_seconds_only(
    limited: Serve,
) -> None:
    slow = _punycode(3_000_000)  # about two minutes in the decoder (1 MB: 17 s, 0.5 MB: 5 s)
    _send(limited.port, slow)
    _good_mail_is_a_ticket_within_seconds(limited, "behind the punycode mail")
    # the parser reads a declared punycode as an unknown charset, at once; were it decoded, the
    # time limit would stop it: either way it ends in an outcome and held nothing up
    wait_until(
        "the punycode mail has its outcome",
        lambda: _is_finished(limited, _spool_id(slow)),
        90,
    )
    assert len(_workers_of(limited)) == 1


def test_a_mail_over_the_time_limit_is_tried_max_attempts_times_then_quarantined(
    limited: Serve,
) -> None:
    slow = _scans(600)
    _send(limited.port, slow)
    _good_mail_is_a_ticket_within_seconds(limited, "behind the scans")
    wait_until(
        "the scans are quarantined",
        lambda: _is_quarantined(limited, _spool_id(slow)),
        90,
    )
    entry = _quarantined(limited, _spool_id(slow))
    assert entry is not None
    assert entry["reason"] == "processing_error"
    assert entry["detail"] == (
        f"failed {MAX_ATTEMPTS} times; last: took longer than {TIME_LIMIT:g} s "
        "(worker.item_time_limit); its worker was stopped"
    )
    assert "the scans you asked for" not in _ticket_subjects(limited)
    # each stop was logged with the mail's spool id, and the worker was replaced
    stops = [
        line
        for line in limited.log.read_text().splitlines()
        if "over its time limit" in line and _spool_id(slow) in line
    ]
    assert len(stops) == MAX_ATTEMPTS
    assert len(_workers_of(limited)) == 1


def test_a_second_serve_on_a_taken_port_says_so_in_one_line_and_leaves_nothing(
    limited: Serve,
) -> None:
    """The same configuration started twice, as an operator might by mistake."""
    env = {**os.environ, "MAILBOT_CONFIG": str(limited.config_path)}
    code, out, err, pid = _serve_once(env=env)
    assert (code, out, err) == (
        69,
        "",
        f"mailbot: cannot listen on 127.0.0.1:{limited.port}: address already in use\n",
    )
    assert _started_by(pid) == []
    # and the first goes on serving
    _good_mail_is_a_ticket_within_seconds(limited, "after the second serve gave up")


def _serve_once(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, int]:
    """A `mailbot serve` expected to stop by itself: (exit code, stdout, stderr, pid). One
    that does not within two minutes is killed, so a failing test leaves nothing running."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "mailbot", *args, "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = serve.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        for child in psutil.Process(serve.pid).children(recursive=True):
            child.kill()
        serve.kill()
        serve.communicate()
        raise
    return serve.returncode, out, err, serve.pid


def _started_by(serve_pid: int) -> list[psutil.Process]:
    """Processes a serve started (its workers carry its pid), still running anywhere."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("MAILBOT_SERVE_PID") == str(serve_pid):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def test_a_port_held_by_another_program_stops_serve_before_it_starts_a_worker(
    tmp_path: Path,
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        path = _limited_config(tmp_path, listen=f"127.0.0.1:{port}")
        code, out, err, pid = _serve_once("--config", str(path))
    assert (code, out, err) == (
        69,
        "",
        f"mailbot: cannot listen on 127.0.0.1:{port}: address already in use\n",
    )
    assert _started_by(pid) == []


def _unusable(tmp_path: Path, what: str) -> tuple[Path, int, str, str]:
    """A configuration whose database or spool cannot be used: (path, exit code, how the
    one line starts, what else it must say)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    if what == "database refuses connections":
        dead_port = free_port()  # nothing listens there
        url = f"postgresql://mailbot:s3cret@127.0.0.1:{dead_port}/mailbot"
        shown = f"postgresql://mailbot:***@127.0.0.1:{dead_port}/mailbot"  # no password
        return (
            write_config(tmp_path, url),
            69,
            f"mailbot: database {shown}: cannot be opened or reached: ",
            "Connection refused",
        )
    if what == "database file cannot be made":
        url = f"sqlite:///{blocker}/mailbot.db"
        return (
            write_config(tmp_path, url),
            69,
            f"mailbot: database {url}: cannot be opened or reached: ",
            str(blocker),
        )
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    spool = tmp_path / "spool"
    path.write_text(path.read_text().replace(f'path = "{spool}"', f'path = "{blocker}/spool"'))
    return path, 74, f"mailbot: spool {blocker}/spool: ", "Not a directory"


@pytest.mark.parametrize(
    "what", ["database refuses connections", "database file cannot be made", "spool"]
)
def test_serve_that_cannot_use_its_database_or_spool_says_so_in_one_line(
    tmp_path: Path, what: str
) -> None:
    path, expected_code, start, says = _unusable(tmp_path, what)
    code, out, err, pid = _serve_once("--config", str(path))
    assert (code, out) == (expected_code, ""), err
    assert err.startswith(start), err
    assert says in err
    assert err.count("\n") == 1 and err.endswith("\n"), err  # one line, no traceback
    assert "s3cret" not in err
    assert _started_by(pid) == []


def test_an_error_in_serves_upkeep_is_logged_and_serve_goes_on(tmp_path: Path) -> None:
    """The spool's work folder vanishes under a running serve (a careless clean-up): every
    upkeep round that reads it fails. Serve logs that, with the traceback, and goes on:
    mail is still accepted and processed, and a worker that dies is still replaced."""
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, tmp_path / "serve.log").start()
    try:
        shutil.rmtree(tmp_path / "spool" / "work")

        def upkeep_failed() -> bool:
            for line in serve.log.read_text().splitlines():
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("msg", "").startswith("serve upkeep failed"):
                    return "FileNotFoundError" in entry["exception"]
            return False

        wait_until("serve logs its failed upkeep", upkeep_failed, 30)
        _good_mail_is_a_ticket_within_seconds(serve, "while the work folder is gone")
        [first] = _workers_of(serve)
        first.kill()
        wait_until(
            "serve replaces the killed worker",
            lambda: [p.pid for p in _workers_of(serve)] not in ([], [first.pid]),
            60,
        )
        _good_mail_is_a_ticket_within_seconds(serve, "after the worker was replaced")
        assert serve.alive()
    finally:
        if serve.alive():
            assert serve.terminate() == 0, serve.log.read_text()[-3000:]


LOOP_DIES = """
import sys
from mailbot import service
from mailbot.cli import main

async def broken_tick(self):  # what an unguarded error in serve's loop does
    raise RuntimeError("upkeep broke outside its guard")

service._Supervisor.tick = broken_tick
sys.argv = ["mailbot", "serve"]
main()
"""


def test_serve_whose_event_loop_dies_exits_1_and_frees_its_port(tmp_path: Path) -> None:
    """Were an error to end serve's event loop (the issue saw one leave the port open with
    nobody accepting while the sender thread kept the process alive), serve exits 1 with
    one line, so its supervisor restarts it; its port is free and its workers are gone."""
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}")
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = subprocess.Popen(
        [sys.executable, "-c", LOOP_DIES],
        env={**os.environ, "MAILBOT_CONFIG": str(path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = serve.communicate(timeout=120)
    finally:
        if serve.poll() is None:
            for child in psutil.Process(serve.pid).children(recursive=True):
                child.kill()
            serve.kill()
            serve.communicate()
    assert (serve.returncode, out) == (1, ""), err[-3000:]
    # the log (JSON lines) has the traceback; the operator's screen gets one line
    plain = [line for line in err.splitlines() if not line.startswith("{")]
    assert plain == [
        "mailbot: serve stopped by an unexpected error: upkeep broke outside its guard"
    ]
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(
        e["msg"] == "serve stopped: its event loop failed" and "RuntimeError" in e["exception"]
        for e in logged
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # nobody holds the port any more
    wait_until("its workers end with it", lambda: _started_by(serve.pid) == [], 30)


# -- a database that refuses writes mid-processing ------------------------------------------


def _refuse_writes(db_file: Path, refuse: bool) -> None:
    """What a full disk or an exhausted quota does to a worker: every write it tries
    fails. Written as SQLite triggers, from outside, like an administrator would."""
    with sqlite3.connect(db_file) as admin:
        if refuse:
            admin.executescript(
                """
                CREATE TRIGGER refuse_tickets BEFORE INSERT ON ticket
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
                CREATE TRIGGER refuse_spool BEFORE UPDATE ON spool_item
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
                """
            )
        else:
            admin.executescript("DROP TRIGGER refuse_tickets; DROP TRIGGER refuse_spool;")


def test_a_database_error_mid_processing_frees_the_claims_as_soon_as_it_can(
    tmp_path: Path,
) -> None:
    """Before: the failed attempt could not be recorded, so the item and the rest of the
    batch stayed leased to the worker for the lease's ten minutes."""
    config = config_mod.load(
        write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}"), environ={}
    )
    app = App.build(config)
    first = app.spool.accept(_plain("first"), "smtp", rcpt_to=["support@cleverbox.test"])
    second = app.spool.accept(_plain("second"), "smtp", rcpt_to=["support@cleverbox.test"])
    worker = Worker(app.pipeline)
    claimed = app.spool.claim(worker.name, 32)
    assert [c.id for c in claimed] == [first, second]
    _refuse_writes(tmp_path / "mailbot.db", True)

    with pytest.raises(Exception, match="database or disk is full"):
        worker.run_items(claimed)
    stop, wake = threading.Event(), threading.Event()
    loop = threading.Thread(target=worker.run_forever, args=(stop, wake, 0.05))
    loop.start()
    try:
        time.sleep(1.5)  # the loop meets the refusing database at least once more
        _refuse_writes(tmp_path / "mailbot.db", False)

        def both_done() -> bool:
            with app.db.reading() as session:
                items = SpoolItems(session).by_ids([first, second])
                return all(item.state == "done" for item in items)

        wait_until("the worker records the failure and then processes both", both_done, 30)
    finally:
        stop.set()
        wake.set()
        loop.join(30)
        worker.close()
    with app.db.reading() as session:
        attempts = {item.id: item.attempts for item in SpoolItems(session).by_ids([first, second])}
    # the one that met the error is charged; the rest of the batch was only given back
    assert attempts == {first: 1, second: 0}
    app.db.dispose()
