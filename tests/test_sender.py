"""The sender against a real SMTP server: STARTTLS and AUTH, refusals, retries, backoff."""

from __future__ import annotations

import email
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session, select

from mailbot import config as config_mod
from mailbot.pipeline import Worker
from mailbot.sender import Sender, make_transport
from mailbot.service import App
from mailbot.store import OutboxRow
from tests.conftest import free_port, write_config
from tests.servers import Catcher


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _tls(password: str, ca_file: Path | None) -> str:
    lines = ['tls = "starttls"', 'username = "mailbot"', f'password = "{password}"']
    if ca_file is not None:
        lines.append(f'ca_file = "{ca_file}"')
    return "\n".join(lines) + "\n"


_opened: list[App | Sender] = []
"""What `_app` and `_sender` built for the running test, closed when it ends."""


@pytest.fixture(autouse=True)
def _close_what_the_test_opened() -> Iterator[None]:
    yield
    while _opened:
        opened = _opened.pop()
        if isinstance(opened, Sender):
            opened.close()
        else:
            opened.db.dispose()


def _app(tmp_path: Path, db_url: str, port: int, relay_extra: str = "") -> App:
    path = write_config(tmp_path, db_url, relay=("127.0.0.1", port), extra=relay_extra)
    app = App.build(config_mod.load(path, environ={}))
    _opened.append(app)
    return app


def _customer_mail(app: App, sender: str = "olena@vector.test", subject: str = "help") -> None:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@cleverbox.test"
    msg["Subject"] = subject
    msg["Message-ID"] = email.utils.make_msgid(domain="vector.test")
    msg.set_content("Добрый день!")
    app.spool.accept(msg.as_bytes(policy=policy.SMTP), "smtp", rcpt_to=["support@cleverbox.test"])
    worker = Worker(app.pipeline)
    assert worker.run_once() == 1
    worker.close()


def _sender(app: App, **outbound: object) -> Sender:
    settings = app.config.settings.outbound.model_copy(update=outbound)
    sender = Sender(app.db, settings, make_transport(settings, app.config.maildir, None))
    _opened.append(sender)
    return sender


def _row(app: App) -> OutboxRow:
    with Session(app.db.engine) as session:
        return session.exec(select(OutboxRow)).one()


@pytest.fixture
def tls_catcher(tmp_path: Path, certificate: tuple[Path, Path]) -> Iterator[Catcher]:
    catcher = Catcher(tmp_path / "caught", tls=(*certificate, "mailbot", "s3cret"))
    yield catcher
    catcher.stop()


def test_starttls_and_auth_deliver(
    tmp_path: Path, db_url: str, tls_catcher: Catcher, certificate: tuple[Path, Path]
) -> None:
    app = _app(tmp_path, db_url, tls_catcher.port, _tls("s3cret", certificate[0]))
    _customer_mail(app)
    sender = _sender(app)
    assert sender.send_due() == 1
    sender.close()
    [reply] = tls_catcher.wait_for(1)
    assert str(reply["Subject"]).startswith("[CBX-000001]")
    assert _row(app).state == "sent"


def test_wrong_password_is_retried_later_not_lost(
    tmp_path: Path, db_url: str, tls_catcher: Catcher, certificate: tuple[Path, Path]
) -> None:
    app = _app(tmp_path, db_url, tls_catcher.port, _tls("wrong", certificate[0]))
    _customer_mail(app)
    _sender(app).send_due()
    row = _row(app)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "credentials" in (row.last_error or "")
    assert tls_catcher.messages() == []


def test_untrusted_certificate_is_not_sent_to(
    tmp_path: Path, db_url: str, tls_catcher: Catcher
) -> None:
    app = _app(tmp_path, db_url, tls_catcher.port, _tls("s3cret", None))
    _customer_mail(app)
    _sender(app).send_due()
    row = _row(app)
    assert row.state == "pending" and "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")


def test_temporary_refusal_backs_off_then_gives_up(tmp_path: Path, db_url: str) -> None:
    """The clock is moved by hand, so a slow machine cannot make a retry due early."""
    catcher = Catcher(tmp_path / "caught")
    try:
        app = _app(tmp_path, db_url, catcher.port)
        _customer_mail(app, sender="later@vector.test")
        now = [datetime.now(UTC)]
        sender = _sender(app, max_attempts=3, retry_base_seconds=30.0, retry_max_seconds=600.0)
        sender.clock = lambda: now[0]
        assert sender.send_due() == 1
        row = _row(app)
        assert (row.state, row.attempts) == ("pending", 1) and "451" in (row.last_error or "")
        assert 27 <= _seconds_until(row, now[0]) <= 33  # 30 s, give or take the 10 % jitter
        now[0] += timedelta(seconds=26)
        assert sender.send_due() == 0  # not due yet
        now[0] += timedelta(seconds=8)
        assert sender.send_due() == 1
        row = _row(app)
        assert row.attempts == 2
        assert 54 <= _seconds_until(row, now[0]) <= 66  # doubled
        now[0] += timedelta(seconds=67)
        sender.send_due()
        row = _row(app)
        assert row.state == "failed" and "gave up after 3 tries" in (row.last_error or "")
    finally:
        catcher.stop()


def _seconds_until(row: OutboxRow, now: datetime) -> float:
    due = row.next_attempt_at
    if due.tzinfo is None:  # SQLite hands back naive UTC
        due = due.replace(tzinfo=UTC)
    return (due - now).total_seconds()


def test_relay_down_is_a_temporary_failure(tmp_path: Path, db_url: str) -> None:
    app = _app(tmp_path, db_url, free_port())
    _customer_mail(app)
    _sender(app).send_due()
    row = _row(app)
    assert row.state == "pending" and "Connection refused" in (row.last_error or "")


def test_subject_with_line_breaks_cannot_inject_headers(tmp_path: Path, db_url: str) -> None:
    catcher = Catcher(tmp_path / "caught")
    try:
        app = _app(tmp_path, db_url, catcher.port)
        raw = (
            b"From: olena@vector.test\r\nTo: support@cleverbox.test\r\n"
            b"Subject: =?utf-8?q?hello=0D=0ABcc:_victim@evil.test=0D=0A=0D=0Abody?=\r\n"
            b"Message-ID: <inject@vector.test>\r\n\r\nhi\r\n"
        )
        app.spool.accept(raw, "smtp", rcpt_to=["support@cleverbox.test"])
        worker = Worker(app.pipeline)
        worker.run_once()
        worker.close()
        _sender(app).send_due()
        [reply] = catcher.wait_for(1)
    finally:
        catcher.stop()
    assert reply["Bcc"] is None
    assert "\n" not in str(reply["Subject"]) and "victim@evil.test" in str(reply["Subject"])
    assert [p.name for p in catcher.folder.glob("*.eml")]  # one mail, to the customer only
