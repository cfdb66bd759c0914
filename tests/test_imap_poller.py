"""The IMAP poller against a real Dovecot (tests/dovecot.py): mail appended to the server
becomes tickets, is marked or moved only once its outcome is committed, and survives server
restarts, renumbered folders, broken messages and `kill -9` without a duplicate ticket."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError
from sqlmodel import col, func, select

from mailbot import config as config_mod
from mailbot.errors import ConfigError
from mailbot.ingest.imap import KEYWORD, Poller, Taken, build_pollers
from mailbot.pipeline import Worker
from mailbot.service import App
from mailbot.store import Message, SpoolItem, Ticket
from tests.conftest import free_port, run, wait_until, write_config
from tests.dovecot import PASSWORD, Dovecot, running_dovecot, start_dovecot
from tests.helpers import message
from tests.servers import Serve

ENV = {"MAILBOT_IMAP_PASSWORD": PASSWORD}
TAKEN = {"\\Seen", KEYWORD}


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot()


def mails(count: int, start: int = 0) -> list[bytes]:
    return [
        message(f"Printer {i} is broken", f"Request number {i}, please help.")
        for i in range(start, start + count)
    ]


def imap_config(
    folder: Path,
    url: str,
    keys: str = "",
    *,
    max_size: int = 1048576,
    log: str = "WARNING",
    listen: str | None = None,
) -> Path:
    block = f'\n[[imap]]\nname = "support"\nurl = "{url}"\n{keys}\n'
    path = write_config(
        folder, f"sqlite:///{folder / 'mailbot.db'}", extra=block, max_size=max_size, listen=listen
    )
    path.write_text(path.read_text().replace('level = "WARNING"', f'level = "{log}"'))
    return path


def build(config: Path) -> App:
    return App.build(config_mod.load(config, environ={}))


def processing(app: App) -> Callable[[object], Callable[[Sequence[Taken]], None]]:
    """What `mailbot poll` does with a round: process it here, before the poller marks it."""

    def factory(_mailbox: object) -> Callable[[Sequence[Taken]], None]:
        def settle(taken: Sequence[Taken]) -> None:
            ids = [t.spool_id for t in taken if t.spool_id]
            worker = Worker(app.pipeline)
            try:
                worker.run_items(app.spool.claim(worker.name, len(ids), ids=ids))
            finally:
                worker.close()

        return settle

    return factory


def poller_of(app: App, settle: Callable[[object], Callable[[Sequence[Taken]], None]]) -> Poller:
    [poller] = build_pollers(app.config, app.spool, settle, environ=ENV, settle_wait=0.5)
    return poller


def tickets(app: App) -> list[tuple[str, str]]:
    """(ticket number, subject) of every ticket."""
    with app.db.reading() as s:
        return sorted((t.number, t.subject) for t in s.exec(select(Ticket)))


def spool_rows(app: App) -> list[SpoolItem]:
    with app.db.reading() as s:
        return list(s.exec(select(SpoolItem)))


def marked(server: Dovecot, folder: str = "INBOX") -> int:
    """How many messages carry our mark; -1 while the server is down (a restart under way)."""
    try:
        return sum(flags >= TAKEN for flags in server.flags(folder).values())
    except (OSError, IMAPClientError):
        return -1


def in_thread(poller: Poller) -> Callable[[], None]:
    """Run the poller as serve does; returns the stop."""
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_forever, args=(stop,), daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the poller did not stop"

    return halt


# -- taking mail in ----------------------------------------------------------------------


def test_appended_mail_becomes_tickets_marked_and_dated_by_internaldate(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    arrived = datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    dovecot.append(mails(5), when=arrived)
    config = imap_config(tmp_path, dovecot.url(), "batch = 2")
    code, out, err = run(config, "poll", "--once", "--json", env=ENV)
    assert code == 0, out + err
    import json

    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["uid"], line["outcome"]) for line in lines] == [
        (uid, "ticket") for uid in range(1, 6)
    ]
    assert len({line["ticket"] for line in lines}) == 5
    assert "taken 5, marked 5" in err
    assert all(flags >= TAKEN for flags in dovecot.flags().values())
    app = build(config)
    with app.db.reading() as s:
        received = {m.received_at for m in s.exec(select(Message).where(Message.direction == "in"))}
    assert received == {arrived}, "INTERNALDATE is when the mail counts as received"

    code, out, err = run(config, "poll", "--once", "--json", env=ENV)
    assert (code, out) == (0, ""), "a second pass takes nothing"
    assert "taken 0" in err
    assert len(tickets(app)) == 5


def test_nothing_is_marked_before_its_outcome_is_committed(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    dovecot.append(mails(3))
    app = build(imap_config(tmp_path, dovecot.url()))
    handed: list[Taken] = []
    # no worker runs: the items stay `received`
    poller = poller_of(app, lambda _m: handed.extend)
    result = poller.run_once()
    assert (result.taken, result.marked, result.waiting) == (3, 0, 3)
    assert [t.uid for t in handed] == [1, 2, 3]
    assert all(not flags & TAKEN for flags in dovecot.flags().values())
    assert {row.state for row in spool_rows(app)} == {"received"}
    assert tickets(app) == []

    worker = Worker(app.pipeline)
    worker.run_once()
    worker.close()
    assert len(tickets(app)) == 3
    result = poller.run_once()
    assert (result.marked, result.waiting) == (3, 0)
    assert all(flags >= TAKEN for flags in dovecot.flags().values())
    assert len(spool_rows(app)) == 3, "fetched again, the same bytes are the same spool items"


def test_a_mailbox_with_a_desk_routes_everything_there(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.append([message("Pomoc", "Nefunguje to.", to="someone@elsewhere.test")])
    config = imap_config(tmp_path, dovecot.url(), 'desk = "cloudempiere"')
    code, out, err = run(config, "poll", "--once", env=ENV)
    assert code == 0, out + err
    assert out.startswith("support uid 1: ticket CEM-")


@pytest.mark.parametrize("move_capability", [True, False], ids=["MOVE", "COPY+EXPUNGE"])
def test_move_to_a_folder_after_processing(tmp_path: Path, move_capability: bool) -> None:
    # without MOVE in its CAPABILITY the poller must fall back to COPY, \Deleted, UID EXPUNGE
    capability = None if move_capability else "IMAP4rev1 LITERAL+ SASL-IR UIDPLUS IDLE"
    server = start_dovecot(capability=capability)
    try:
        server.append(mails(4))
        config = imap_config(tmp_path, server.url(), 'after = "move:Processed"\nbatch = 3')
        code, out, err = run(config, "poll", "--once", env=ENV)
        assert code == 0, out + err
        assert server.count("INBOX") == 0
        moved = server.flags("Processed")
        assert len(moved) == 4 and all(flags >= TAKEN for flags in moved.values())
        assert len(tickets(build(config))) == 4
        assert run(config, "poll", "--once", env=ENV).code == 0
        assert server.count("Processed") == 4
    finally:
        server.close()


# -- what goes wrong ---------------------------------------------------------------------


def test_unparseable_mail_is_quarantined_and_the_folder_goes_on(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    garbage = b"\x01\x02\x03 garbage without any header\r\n"
    dovecot.append([*mails(1), garbage, *mails(1, start=1)])
    config = imap_config(tmp_path, dovecot.url(), 'desk = "cleverbox"')
    code, out, err = run(config, "poll", "--once", "--json", env=ENV)
    assert code == 0, out + err
    assert [('"quarantined"' in line, '"unparseable"' in line) for line in out.splitlines()] == [
        (False, False),
        (True, True),
        (False, False),
    ]
    assert len(tickets(build(config))) == 2
    assert all(flags >= TAKEN for flags in dovecot.flags().values())


def test_oversized_and_unreadable_messages_are_left_and_do_not_block(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    big = message("Huge log", "x" * 1100)  # over the 1024-byte limit set below
    dovecot.append([*mails(2), big, *mails(3, start=2)])
    # one message Dovecot cannot read: it answers the FETCH by hanging up
    [broken] = [
        p for p in (dovecot.maildir() / "new").iterdir() if b"Printer 1 is" in p.read_bytes()
    ]
    broken.chmod(0)
    config = imap_config(tmp_path, dovecot.url(), "batch = 10", max_size=1024)
    code, out, err = run(config, "poll", "--once", env=ENV)
    assert code == 65, out + err
    assert "support uid 3: skipped oversized" in out
    assert "support uid 2: skipped cannot be fetched" in out
    assert len(tickets(build(config))) == 4
    flags = dovecot.flags()
    assert [uid for uid, f in sorted(flags.items()) if f >= TAKEN] == [1, 4, 5, 6]
    # the position went past them: the next pass neither retries nor reports them
    code, out, _ = run(config, "poll", "--once", env=ENV)
    assert (code, out) == (0, "")


def test_dovecot_restarted_between_fetch_and_mark(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.append(mails(12))
    app = build(imap_config(tmp_path, dovecot.url(), "batch = 4\npoll_interval = 0.5"))
    rounds = 0
    process = processing(app)(None)

    def settle(taken: Sequence[Taken]) -> None:
        nonlocal rounds
        process(taken)
        rounds += 1
        if rounds == 2:  # the mail of this round is committed, its mark not yet sent
            dovecot.stop()
            dovecot.start()

    poller = poller_of(app, lambda _m: settle)
    halt = in_thread(poller)
    try:
        wait_until("all marked", lambda: marked(dovecot) == 12)
        # and once more while it sits in IDLE: BYE, reconnect, the new mail is taken
        wait_until("idle", poller.idling.is_set)
        dovecot.stop()
        dovecot.start()
        dovecot.append(mails(2, start=12))
        wait_until("new mail taken", lambda: len(tickets(app)) == 14)
        wait_until("marked", lambda: marked(dovecot) == 14)
    finally:
        halt()
    assert len(tickets(app)) == 14
    assert len({t[1] for t in tickets(app)}) == 14, "each mail is exactly one ticket"
    assert rounds > 4, "the round cut off by the restart was taken again"


def test_a_renumbered_folder_creates_no_duplicate(tmp_path: Path, dovecot: Dovecot) -> None:
    originals = mails(3)
    dovecot.append(originals, "Support")
    config = imap_config(tmp_path, dovecot.url("Support"))
    assert run(config, "poll", "--once", env=ENV).code == 0
    app = build(config)
    assert len(tickets(app)) == 3
    with dovecot.client() as client:
        before = client.select_folder("Support")[b"UIDVALIDITY"]
        client.close_folder()
        client.delete_folder("Support")
    dovecot.append(originals, "Support")
    with dovecot.client() as client:
        assert client.select_folder("Support")[b"UIDVALIDITY"] != before

    code, out, err = run(config, "poll", "--once", env=ENV)
    assert code == 0, out + err
    assert len(tickets(app)) == 3, "the same mails, renumbered, are not ticketed again"
    assert all(flags >= TAKEN for flags in dovecot.flags("Support").values())


def test_idle_sees_new_mail_without_waiting_for_the_poll_interval(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    # a 600 s interval: a mail taken within the 60 s guard below was seen through IDLE
    app = build(imap_config(tmp_path, dovecot.url(), "poll_interval = 600"))
    poller = poller_of(app, processing(app))
    halt = in_thread(poller)
    try:
        wait_until("idle", poller.idling.is_set)
        appended = time.monotonic()
        dovecot.append(mails(1))
        wait_until("ticket", lambda: len(tickets(app)) == 1, timeout=60)
        print(f"IDLE: appended to ticket in {time.monotonic() - appended:.2f} s")
        wait_until("marked", lambda: all(f >= TAKEN for f in dovecot.flags().values()))
    finally:
        halt()


def test_without_idle_the_poller_looks_at_its_interval(tmp_path: Path) -> None:
    server = start_dovecot(capability="IMAP4rev1 LITERAL+ SASL-IR UIDPLUS MOVE")
    try:
        app = build(imap_config(tmp_path, server.url(), "poll_interval = 0.2"))
        poller = poller_of(app, processing(app))
        halt = in_thread(poller)
        try:
            server.append(mails(2))
            wait_until("tickets", lambda: len(tickets(app)) == 2)
            assert not poller.idling.is_set()
        finally:
            halt()
    finally:
        server.close()


# -- security ----------------------------------------------------------------------------


def test_the_password_never_shows(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mails(2))
    config = imap_config(tmp_path, dovecot.url(), log="DEBUG")
    env = {**os.environ, "MAILBOT_CONFIG": str(config), **ENV}
    ok = subprocess.run(
        [sys.executable, "-m", "mailbot", "poll", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert '"connected"' in ok.stderr, "the DEBUG log was written"
    assert PASSWORD not in ok.stdout + ok.stderr

    wrong = "Wr0ng-but-Secret"
    refused = subprocess.run(
        [sys.executable, "-m", "mailbot", "poll", "--once"],
        env={**env, "MAILBOT_IMAP_PASSWORD": wrong},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 69, refused.stderr
    assert "AUTHENTICATIONFAILED" in refused.stderr or "Authentication failed" in refused.stderr
    assert wrong not in refused.stdout + refused.stderr


def test_tls_is_verified_unless_the_mailbox_says_otherwise(tmp_path: Path) -> None:
    server = start_dovecot(tls=True)
    try:
        server.append(mails(1))
        config = imap_config(tmp_path, server.url(tls=True))
        code, out, err = run(config, "poll", "--once", env=ENV)
        assert code == 69, out + err
        assert "certificate verify failed" in err
        assert server.flags() and not any(f & TAKEN for f in server.flags().values())

        config = imap_config(tmp_path, server.url(tls=True), "tls_verify = false")
        code, out, err = run(config, "poll", "--once", env=ENV)
        assert code == 0, out + err
        assert len(tickets(build(config))) == 1
    finally:
        server.close()


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ('url = "imap://u:pw@host/INBOX"', "imap.0.url: the URL holds a password"),
        ('url = "https://host/INBOX"', "imap.0.url: expected imaps://"),
        ('url = "imap://u@host/INBOX"\ndesk = "nope"', "imap.0.desk: no desk 'nope'"),
        ('url = "imap://u@host/INBOX"\nafter = "delete"', "imap.0.after:"),
        ('url = "imap://u@host/INBOX"\nbatch = 0', "imap.0.batch:"),
        ('url = "imap://u@host/INBOX"\ncolour = "red"', "imap.0.colour: unknown key"),
    ],
)
def test_bad_mailbox_settings_name_the_file_and_key(tmp_path: Path, keys: str, error: str) -> None:
    path = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", extra=f'[[imap]]\nname = "x"\n{keys}\n'
    )
    with pytest.raises(ConfigError, match=str(path)) as caught:
        config_mod.load(path, environ={})
    assert error in str(caught.value)


def test_a_missing_password_or_mailbox_is_a_configuration_error(tmp_path: Path) -> None:
    config = imap_config(tmp_path, "imap://support%40grsoft.test@127.0.0.1:1/INBOX")
    code, _, err = run(config, "poll", "--once", env={"MAILBOT_IMAP_PASSWORD": ""})
    assert code == 78
    assert "password_env: $MAILBOT_IMAP_PASSWORD is not set" in err
    code, _, err = run(config, "poll", "--once", "--mailbox", "other", env=ENV)
    assert code == 66
    assert "--mailbox other: no such [[imap]] mailbox (known: support)" in err
    code, _, err = run(write_config(tmp_path / "plain", "sqlite:///x.db"), "poll", "--once")
    assert code == 78
    assert "no [[imap]] mailbox is configured" in err


def test_a_password_file_is_read(tmp_path: Path, dovecot: Dovecot) -> None:
    secret = tmp_path / "imap-password"
    secret.write_text(PASSWORD + "\n")
    dovecot.append(mails(1))
    config = imap_config(tmp_path, dovecot.url(), f'password_file = "{secret}"')
    code, out, err = run(config, "poll", "--once", env={"MAILBOT_IMAP_PASSWORD": ""})
    assert code == 0, out + err
    assert "ticket" in out


# -- processes ---------------------------------------------------------------------------


def test_serve_runs_the_pollers_and_stops_cleanly(
    tmp_path: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_IMAP_PASSWORD", PASSWORD)
    port = free_port()
    config = imap_config(
        tmp_path, dovecot.url(), "poll_interval = 600", listen=f"127.0.0.1:{port}", log="INFO"
    )
    serve = Serve(config, port, tmp_path / "serve.log").start()
    try:
        dovecot.append(mails(3))
        app = build(config)
        wait_until("marked", lambda: marked(dovecot) == 3)
        assert len(tickets(app)) == 3
    finally:
        code = serve.terminate()
    log = (tmp_path / "serve.log").read_text()
    assert code == 0, log
    assert "stopped cleanly" in log
    assert PASSWORD not in log


@pytest.mark.slow
def test_kill_9_between_fetch_and_mark_loses_and_doubles_nothing(
    tmp_path: Path, dovecot: Dovecot
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    config = imap_config(tmp_path, dovecot.url(), "batch = 3\npoll_interval = 0.2")
    env = {**os.environ, "MAILBOT_CONFIG": str(config), **ENV}
    spool = tmp_path / "spool"
    for round_ in range(5):
        dovecot.append(mails(6, start=6 * round_))
        files = len(list(spool.glob("??/*.eml")))
        target = files + rng.randint(1, 6)
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailbot", "poll"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # kill as the poller takes mail in: after a random number of spooled messages
            wait_until("spooling", _spooled(spool, target, proc), timeout=30)
            time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    code, out, err = run(config, "poll", "--once", env=ENV)
    assert code == 0, f"seed {seed}: {out}{err}"
    app = build(config)
    numbers = tickets(app)
    assert len(numbers) == 30, f"seed {seed}"
    assert len({subject for _, subject in numbers}) == 30, f"seed {seed}: a mail ticketed twice"
    with app.db.reading() as s:
        per_mail = s.exec(
            select(Message.subject, func.count())
            .where(col(Message.direction) == "in")
            .group_by(col(Message.subject))
        ).all()
    assert {count for _, count in per_mail} == {1}, f"seed {seed}"
    flags = dovecot.flags()
    assert len(flags) == 30 and all(f >= TAKEN for f in flags.values()), f"seed {seed}"


def _spooled(spool: Path, count: int, proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: len(list(spool.glob("??/*.eml"))) >= count or proc.poll() is not None
