"""`mailbot status`, its health rule (`--check`, /health) and the Prometheus metrics of `serve`,
on stores filled by real mail: `mailbot ingest`, the real sender against an SMTP relay that
refuses one address, a real IMAP pass, and `mailbot serve` taking mail over SMTP."""

from __future__ import annotations

import json
import smtplib
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailbot import config as config_mod
from tests.conftest import free_port, run, send_all, wait_until, write_config
from tests.dovecot import PASSWORD, Dovecot, running_dovecot
from tests.helpers import message
from tests.servers import Catcher, Serve, mailbot_cli

T = datetime.fromisoformat("2021-03-02T10:00:00+01:00")
"""When the mail arrives: in the past of any day the tests run, so the real sender finds
the replies due; every command is told its time with --now."""

DESK = """
name = "acme"
title = "Acme Support"
addresses = ["help@acme.test"]
ticket_prefix = "ACM"
timezone = "Europe/Warsaw"
rules = ["loops", "unknown_customer"]
[[customers]]
name = "Acme Corp"
contacts = ["boss@acme.test", "refuse.boss@acme.test"]
[calendars.always]
always = true
[sla]
calendar = "always"
[[sla.targets]]
first_response = 2
resolution = 8
"""
"""Round the clock (calendar `always`): a ticket's first response is due 2 hours after it
arrived, its resolution 8 hours after."""


def at(delta: timedelta) -> str:
    return (T + delta).isoformat()


def desks(folder: Path) -> Path:
    target = folder / "desks"
    target.mkdir(exist_ok=True)
    (target / "acme.toml").write_text(DESK)
    return target


def mail_file(folder: Path, name: str, sender: str, subject: str, headers: str = "") -> str:
    path = folder / f"{name}.eml"
    path.write_bytes(
        f"From: {sender}\r\nTo: help@acme.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{name}@customer.test>\r\n{headers}\r\n"
        "Please help, the application does not start.\r\n".encode()
    )
    return str(path)


def ingest_four(config: Path, folder: Path) -> None:
    """Two tickets (one from an address the relay refuses), a stranger's mail (quarantined,
    refused by mail) and an out-of-office answer (dropped, never answered)."""
    # a process of its own, as an operator runs it (in this process the command would leave
    # its database connections open until the test process ends)
    done = mailbot_cli(
        config,
        "ingest",
        "--now",
        T.isoformat(),
        mail_file(folder, "one", "boss@acme.test", "App does not start"),
        mail_file(folder, "two", "stranger@elsewhere.test", "Hello"),
        mail_file(folder, "three", "boss@acme.test", "Away", "Auto-Submitted: auto-replied\r\n"),
        mail_file(folder, "four", "refuse.boss@acme.test", "Cannot log in"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    outcomes = [(line["outcome"], line["reason"]) for line in map(json.loads, lines)]
    assert outcomes == [
        ("ticket", None), ("quarantined", "unknown_customer"), ("dropped", "auto_reply"),
        ("ticket", None),
    ]  # fmt: skip


def status_json(config: Path, *args: str) -> dict[str, object]:
    code, out, err = run(config, "status", "--json", *args)
    assert code == 0, out + err
    data: dict[str, object] = json.loads(out)
    return data


def test_status_shows_tickets_due_the_outbox_quarantine_and_dropped_mail(
    tmp_path: Path, db_url: str
) -> None:
    with Catcher(tmp_path / "caught") as relay:
        config = write_config(
            tmp_path, db_url, desks=desks(tmp_path), relay=("127.0.0.1", relay.port)
        )
        ingest_four(config, tmp_path)

        # an hour later: both first responses fall due within 4 hours, none is breached; the
        # three replies queued an hour ago were never sent (no serve ran): the outbox is stuck
        data = status_json(config, "--now", at(timedelta(hours=1)))
        [acme] = data["desks"]  # type: ignore[misc]
        assert acme["desk"] == "acme" and acme["time_zone"] == "Europe/Warsaw"
        assert acme["tickets"] == {
            "new": 2, "open": 0, "waiting_customer": 0, "solved": 0, "closed": 0}  # fmt: skip
        assert acme["first_response"] == {
            "breached": 0, "due_soon": 2, "next_due": "2021-03-02T12:00:00+01:00"}  # fmt: skip
        assert acme["resolution"]["due_soon"] == 0  # 8 hours: beyond the 4 asked about
        assert status_json(config, "--now", at(timedelta(hours=1)), "--hours", "8")["desks"][0][
            "resolution"]["due_soon"] == 2  # type: ignore[index]  # fmt: skip
        one = {"total": 1, "recent": 1}
        assert data["quarantine"] == {**one, "by_reason": {"unknown_customer": one}}
        assert data["dropped"] == {**one, "by_reason": {"auto_reply": one}}
        outbox = data["outbox"]
        assert (outbox["pending"], outbox["failed"], outbox["overdue"]) == (3, 0, 3)  # type: ignore[index]
        assert data["healthy"] is False
        assert [p.split(":")[0] for p in data["problems"]] == ["outbox"]  # type: ignore[attr-defined]

        code, out, _ = run(config, "status", "--check", "--now", at(timedelta(hours=1)))
        assert code == 4
        assert out.startswith("UNHEALTHY") and "3 repl(ies) due and not sent" in out

        # the real sender: the relay takes two and refuses the one to refuse.boss@ for good
        send_all(config)
        relay.wait_for(2)

    later = at(timedelta(hours=4, minutes=30))
    data = status_json(config, "--now", later)
    assert data["healthy"] is True and data["problems"] == []
    acme = data["desks"][0]  # type: ignore[index]
    assert acme["first_response"] == {"breached": 2, "due_soon": 0, "next_due": None}
    assert acme["resolution"] == {
        "breached": 0, "due_soon": 2, "next_due": "2021-03-02T18:00:00+01:00"}  # fmt: skip
    outbox = data["outbox"]
    assert (outbox["pending"], outbox["retrying"], outbox["failed"], outbox["sent"]) == (0, 0, 1, 2)  # type: ignore[index]
    [failed] = outbox["failed_rows"]  # type: ignore[index]
    assert (failed["ticket"], failed["kind"], failed["to"], failed["attempts"]) == (
        "ACM-000002", "ack", "refuse.boss@acme.test", 1)  # fmt: skip
    assert "550 5.1.1 mailbox unavailable" in failed["last_error"]
    assert failed["created_at"] == "2021-03-02T10:00:00+01:00"  # the desk's offset

    code, out, _ = run(config, "status", "--check", "--now", later)
    assert (code, out) == (0, "healthy\n")  # a refused reply needs a person, not a restart

    code, text, _ = run(config, "status", "--now", later)
    assert code == 0 and "None" not in text
    assert "health: ok" in text
    assert "failed #" in text and "550 5.1.1 mailbox unavailable" in text
    assert "unknown_customer: 1" in text and "auto_reply: 1" in text
    assert "2021-03-02 18:00:00 +01:00" in text  # the next due time, in the desk's offset

    # two days on, nothing is recent any more, and everything is still counted
    data = status_json(config, "--now", at(timedelta(days=2)), "--since", "24h")
    assert (data["quarantine"]["total"], data["quarantine"]["recent"]) == (1, 0)  # type: ignore[index]
    assert (data["dropped"]["total"], data["dropped"]["recent"]) == (1, 0)  # type: ignore[index]
    assert status_json(config, "--now", at(timedelta(days=2)), "--since", "3d")["dropped"][
        "recent"] == 1  # type: ignore[index]  # fmt: skip


def test_check_fails_when_mail_waits_in_the_spool_and_says_so(tmp_path: Path) -> None:
    from mailbot.service import App

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks(tmp_path))
    app = App.build(config_mod.load(config, environ={}))
    # accepted as the SMTP receiver accepts it, and no worker ever takes it
    app.spool.accept(
        Path(mail_file(tmp_path, "wait", "boss@acme.test", "Waiting")).read_bytes(),
        "smtp",
        rcpt_to=["help@acme.test"],
        accepted_at=T,
    )
    app.db.dispose()

    code, out, _ = run(config, "status", "--check", "--now", at(timedelta(minutes=1)))
    assert (code, out) == (0, "healthy\n")
    code, out, _ = run(config, "status", "--check", "--now", at(timedelta(minutes=12)))
    assert code == 4
    assert "spool: 1 mail(s) wait for processing, the oldest accepted 12 min ago" in out
    data = status_json(config, "--now", at(timedelta(minutes=12)))
    assert data["spool"] == {
        "waiting": 1,
        "oldest_accepted_at": T.astimezone().isoformat(timespec="seconds"),
        "oldest_age_seconds": 720.0,
    }
    assert data["healthy"] is False


def test_status_only_reads_it_creates_no_database(tmp_path: Path) -> None:
    database = tmp_path / "var" / "never.db"
    config = write_config(tmp_path, f"sqlite:///{database}", desks=desks(tmp_path))
    code, out, err = run(config, "status")
    assert code == 69 and out == ""
    assert err.startswith(f"mailbot: database {database}: no such file")
    assert not database.exists() and not database.parent.exists()


def test_an_unreachable_database_is_one_line_and_exit_69(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    config = write_config(
        tmp_path, f"postgresql://mailbot:s3cret@127.0.0.1:{port}/mailbot", desks=desks(tmp_path)
    )
    done = mailbot_cli(config, "status")
    assert done.returncode == 69
    assert done.stderr.startswith("mailbot: database postgresql://mailbot:***@127.0.0.1:")
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_usage_errors_are_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", desks=desks(tmp_path))
    assert run(config, "status", "--hours", "0").code == 2
    code, _, err = run(config, "status", "--since", "yesterday")
    assert code == 2 and "expected a duration like 24h" in err


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot()


def test_a_pollers_last_pass_is_recorded_and_shown(tmp_path: Path, dovecot: Dovecot) -> None:
    dovecot.append([message("Printer broken", "It prints nothing.", to="help@acme.test")])
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        desks=desks(tmp_path),
        extra=f'\n[[imap]]\nname = "support"\nurl = "{dovecot.url()}"\ndesk = "acme"\n',
    )
    env = {"MAILBOT_IMAP_PASSWORD": PASSWORD}
    assert run(config, "db", "upgrade").code == 0
    data = status_json(config, "--now", at(timedelta(0)))
    assert data["pollers"] == [
        {"mailbox": "support", "desk": "acme", "last_pass_at": None, "last_uid": None}
    ]
    assert "support: never" in run(config, "status", "--now", at(timedelta(0))).out
    code, out, err = run(config, "poll", "--once", "--now", at(timedelta(0)), env=env)
    assert code == 0, out + err
    # a second pass finds nothing new and is recorded too
    assert run(config, "poll", "--once", "--now", at(timedelta(minutes=3)), env=env).code == 0
    data = status_json(config, "--now", at(timedelta(minutes=4)))
    assert data["pollers"] == [
        {
            "mailbox": "support",
            "desk": "acme",
            "last_pass_at": "2021-03-02T10:03:00+01:00",
            "last_uid": 1,
        }
    ]
    text = run(config, "status", "--now", at(timedelta(minutes=4))).out
    assert "support: 2021-03-02 10:03:00 +01:00 (60 s ago)" in text


def test_metrics_listen_must_be_loopback(tmp_path: Path) -> None:
    for listen, ok in (
        ("0.0.0.0:9108", False),
        ("192.0.2.1:9108", False),
        ("[::1]:9108", True),
        ("localhost:9108", True),
        ("127.0.0.1:x", False),
    ):
        config = write_config(
            tmp_path, f"sqlite:///{tmp_path / 'm.db'}", extra=f'[metrics]\nlisten = "{listen}"\n'
        )
        code, _, err = run(config, "check-config")
        if ok:
            assert code == 0, err
        else:
            assert code == 78 and f"{config}: metrics.listen:" in err


# -- serve: /metrics and /health -----------------------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def value(metrics: str, name: str) -> float | None:
    """The value of one sample line (`name` with its labels) of the exposition, if there."""
    values = [
        float(line.rpartition(" ")[2])
        for line in metrics.splitlines()
        if line.startswith(name + " ")
    ]
    assert len(values) <= 1, f"{name}: {values}"
    return values[0] if values else None


def sample(metrics: str, name: str) -> float:
    found = value(metrics, name)
    assert found is not None, f"{name}: not in the exposition"
    return found


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, int, Path]]:
    folder = tmp_path_factory.mktemp("serve")
    smtp, http = free_port(), free_port()
    config = write_config(
        folder,
        f"sqlite:///{folder / 'm.db'}",
        listen=f"127.0.0.1:{smtp}",
        desks=desks(folder),
        extra=f'[metrics]\nlisten = "127.0.0.1:{http}"\n',
    )
    serve = Serve(config, smtp, folder / "serve.log").start()
    try:
        yield serve, http, config
    finally:
        serve.terminate()


def test_serve_exports_the_figures_and_is_healthy(serving: tuple[Serve, int, Path]) -> None:
    serve, http, config = serving
    with smtplib.SMTP("127.0.0.1", serve.port, timeout=30) as client:
        for sender, subject in (("boss@acme.test", "Printer"), ("nobody@else.test", "Hi")):
            client.sendmail(
                sender,
                ["help@acme.test"],
                f"From: {sender}\r\nTo: help@acme.test\r\nSubject: {subject}\r\n\r\nHelp.\r\n",
            )
    base = f"http://127.0.0.1:{http}"

    def settled() -> bool:
        text = get(base + "/metrics")[1]
        return (
            value(text, 'mailbot_tickets{desk="acme",state="new"}') == 1
            and value(text, 'mailbot_quarantine_items{reason="unknown_customer"}') == 1
            and value(text, 'mailbot_outbox_rows{state="sent"}') == 2
        )

    wait_until("serve processed both mails and sent both replies", settled)
    code, text = get(base + "/metrics")
    assert code == 200
    assert sample(text, "mailbot_store_up") == 1
    assert sample(text, "mailbot_spool_backlog") == 0
    assert sample(text, 'mailbot_tickets_due_soon{clock="first_response",desk="acme"}') == 1
    assert sample(text, 'mailbot_tickets_breached{clock="first_response",desk="acme"}') == 0
    assert sample(text, 'mailbot_outbox_rows{state="failed"}') == 0
    assert sample(text, "mailbot_healthy") == 1
    assert "process_resident_memory_bytes" in text
    assert get(base + "/health") == (200, "healthy\n")
    assert get(base + "/nothing")[0] == 404
    # the command reads the same store beside the running serve
    assert status_json(config)["desks"][0]["tickets"]["new"] == 1  # type: ignore[index]


def test_health_is_503_with_the_reason_when_the_spool_is_stuck(tmp_path: Path) -> None:
    """The metrics server of `serve` on a store where a mail waits and no worker runs."""
    from mailbot import metrics
    from mailbot.service import App

    http = free_port()
    config_path = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'm.db'}",
        desks=desks(tmp_path),
        extra=f'[metrics]\nlisten = "127.0.0.1:{http}"\nstuck_after = "10m"\n',
    )
    config = config_mod.load(config_path, environ={})
    app = App.build(config)
    raw = Path(mail_file(tmp_path, "stuck", "boss@acme.test", "Stuck")).read_bytes()
    app.spool.accept(raw, "smtp", rcpt_to=["help@acme.test"], accepted_at=T)
    moment = [T + timedelta(minutes=5)]
    server = metrics.start(config, app.db, lambda: moment[0])
    assert server is not None
    try:
        base = f"http://127.0.0.1:{http}"
        assert get(base + "/health") == (200, "healthy\n")
        moment[0] = T + timedelta(minutes=11)
        code, text = get(base + "/health")
        assert code == 503
        assert text.startswith("unhealthy\nspool: 1 mail(s) wait for processing")
        scraped = get(base + "/metrics")[1]
        assert sample(scraped, "mailbot_healthy") == 0
        assert sample(scraped, "mailbot_spool_backlog") == 1
        assert sample(scraped, "mailbot_spool_oldest_age_seconds") == 660
        # a second metrics port on the same address is refused with the key named
        with pytest.raises(metrics.MetricsUnavailable, match=r"metrics\.listen: cannot listen"):
            metrics.start(config, app.db, lambda: moment[0])
    finally:
        server.shutdown()
        server.server_close()
        app.db.dispose()


def test_serve_stops_with_69_when_the_metrics_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'm.db'}",
            desks=desks(tmp_path),
            extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n',
        )
        done = mailbot_cli(config, "serve")
    assert done.returncode == 69
    assert f"metrics.listen: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
