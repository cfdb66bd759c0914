"""End to end over real SMTP: swaks and smtplib -> `mailbot serve` -> a separate catcher process."""

from __future__ import annotations

import email
import json
import shutil
import signal
import smtplib
import socket
import subprocess
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from mailbot import config as config_mod
from tests.conftest import write_config
from tests.servers import Catcher, Serve, mailbot_cli


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[Catcher]:
    c = Catcher(tmp_path / "caught")
    yield c
    c.stop()


@pytest.fixture
def served(tmp_path: Path, db_url: str, catcher: Catcher) -> Iterator[tuple[Serve, Path]]:
    path = write_config(tmp_path, db_url, relay=("127.0.0.1", catcher.port))
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, tmp_path / "serve.log").start()
    yield serve, path
    if serve.alive():
        assert serve.terminate() == 0, (tmp_path / "serve.log").read_text()[-3000:]


def _mail(
    subject: str,
    to: str = "support@cleverbox.test",
    sender: str = "olena@vector.test",
    body: str = "Добрый день! Не открывается модуль склада.",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="vector.test")
    msg.set_content(body)
    return msg


@pytest.mark.skipif(
    shutil.which("swaks") is None, reason="swaks not installed (make test installs it as root)"
)
def test_swaks_mail_becomes_ticket_and_threaded_ack(
    served: tuple[Serve, Path], catcher: Catcher
) -> None:
    serve, config_path = served
    message_id = "<swaks-first-mail@kowalski-serwis.test>"
    result = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{serve.port}",
            "--from",
            "jan@kowalski-serwis.test",
            "--to",
            "pomoc@serwisant.test",
            "--header",
            "Subject: Nie działa wysyłka SMS",
            "--header",
            f"Message-Id: {message_id}",
            "--body",
            "Dzień dobry, od rana nie wychodzą SMS-y do klientów.",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<-  250 2.0.0 OK queued as" in result.stdout
    [reply] = catcher.wait_for(1, timeout=60)
    assert reply["Subject"] == "[SRW-000001] Nie działa wysyłka SMS"
    assert reply["In-Reply-To"] == message_id
    assert reply["References"] == message_id
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["To"] == "jan@kowalski-serwis.test"
    body = reply.get_content()  # type: ignore[attr-defined]
    assert "SRW-000001" in body and "czasu warszawskiego" in body and "Dzień dobry" in body
    shown = mailbot_cli(config_path, "tickets", "show", "SRW-000001", "--json")
    assert shown.returncode == 0, shown.stderr
    ticket = json.loads(shown.stdout)
    assert ticket["requester"] == "jan@kowalski-serwis.test"
    assert [m["message_id"] for m in ticket["messages"] if m["direction"] == "in"] == [message_id]
    assert [(r["kind"], r["state"]) for r in ticket["replies"]] == [("ack", "sent")]
    assert [e["kind"] for e in ticket["events"]] == [
        "created",
        "sla_started",
        "reply_queued",
        "reply_sent",
    ]


def test_smtplib_mails_each_get_one_ack_within_a_second(
    served: tuple[Serve, Path], catcher: Catcher
) -> None:
    serve, config_path = served
    sent = {}
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        for i, desk in enumerate(
            ["support@cleverbox.test", "info@grsoft.test", "support@crmonline.test"]
        ):
            msg = _mail(f"вопрос {i}", to=desk)
            smtp.send_message(msg)
            sent[msg["Message-ID"]] = desk
    replies = catcher.wait_for(3, timeout=3)
    assert {r["In-Reply-To"] for r in replies} == set(sent)
    assert sorted(r["Subject"].split("]")[0] + "]" for r in replies) == [
        "[CBX-000001]",
        "[CRM-000001]",
        "[GRS-000001]",
    ]
    listed = json.loads(mailbot_cli(config_path, "tickets", "list", "--json").stdout)
    assert len(listed) == 3
    time.sleep(0.5)
    assert len(catcher.messages()) == 3  # no second acknowledgement


def test_size_is_advertised_and_oversize_refused_with_552(served: tuple[Serve, Path]) -> None:
    serve, _ = served
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == 1048576
        code, answer = smtp.mail("olena@vector.test", options=["SIZE=5000000"])
        assert code == 552, answer
        smtp.rset()
        # a client that does not declare SIZE is refused after the data, before the spool
        big = _mail("big", body=("x" * 70 + "\n") * 17_000)
        assert smtp.mail("olena@vector.test")[0] == 250
        assert smtp.rcpt("support@cleverbox.test")[0] == 250
        code, answer = smtp.data(big.as_bytes(policy=policy.SMTP))
        assert code == 552, answer
    assert not list((serve.config_path.parent.parent / "spool").glob("??/*.eml"))


def test_unknown_recipient_gets_550_no_relay(served: tuple[Serve, Path]) -> None:
    serve, config_path = served
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            smtp.sendmail(
                "spammer@evil.test", ["victim@gmail.test"], b"Subject: relay?\r\n\r\nhi\r\n"
            )
        code, answer = err.value.recipients["victim@gmail.test"]
        assert code == 550 and b"not a support address" in answer
    assert json.loads(mailbot_cli(config_path, "tickets", "list", "--json").stdout) == []


def test_permanently_refused_reply_is_marked_failed_with_the_server_answer(
    served: tuple[Serve, Path], catcher: Catcher
) -> None:
    serve, config_path = served
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        smtp.send_message(_mail("nobody reads this", sender="refuse-me@vector.test"))
    deadline = time.monotonic() + 10
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        done = mailbot_cli(config_path, "tickets", "show", "CBX-000001", "--json")
        if done.returncode == 0:  # 66 until the worker has opened the ticket
            shown = json.loads(done.stdout)
            if shown["replies"][0]["state"] != "pending":
                break
        time.sleep(0.2)
    reply = shown["replies"][0]
    assert reply["state"] == "failed"
    assert "550" in reply["last_error"] and "catcher refuses it" in reply["last_error"]
    assert catcher.messages() == []


def test_smuggled_second_message_is_not_accepted(
    served: tuple[Serve, Path], catcher: Catcher
) -> None:
    """SMTP smuggling: a bare-LF end of data must not end the message."""
    serve, config_path = served
    data = (
        b"From: olena@vector.test\r\nTo: support@cleverbox.test\r\nSubject: first\r\n\r\nhello\n.\n"
        b"MAIL FROM:<ceo@cleverbox.test>\r\nRCPT TO:<support@cleverbox.test>\r\nDATA\r\n"
        b"From: ceo@cleverbox.test\r\nSubject: smuggled\r\n\r\nsmuggled\r\n"
    )
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        smtp.sendmail("olena@vector.test", ["support@cleverbox.test"], data)
    catcher.wait_for(1)
    time.sleep(0.5)
    listed = json.loads(mailbot_cli(config_path, "tickets", "list", "--json").stdout)
    assert [t["subject"] for t in listed] == ["first"]


def test_sigterm_stops_cleanly_and_nothing_is_lost(
    served: tuple[Serve, Path], catcher: Catcher
) -> None:
    serve, _ = served
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        for i in range(20):  # 20 customers: one address gets at most 10 auto-replies an hour
            smtp.send_message(_mail(f"before stop {i}", sender=f"customer{i}@vector.test"))
    assert serve.terminate() == 0
    serve.start()  # whatever was still in the spool or the outbox goes on now
    replies = catcher.wait_for(20, timeout=20)
    assert sorted(int(r["Subject"].rsplit(" ", 1)[1]) for r in replies) == list(range(20))


def test_default_maildir_outbound_has_the_ack(tmp_path: Path) -> None:
    """`make run`'s set-up: no relay, replies land in the maildir (how fast: benchmarks/)."""
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, tmp_path / "serve.log").start()
    try:
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(_mail("Проблема с оплатой"))
        new = tmp_path / "sent" / "new"
        while not any(new.glob("*")) and time.monotonic() - started < 60:
            time.sleep(0.01)
        [reply] = new.glob("*")
        assert "[CBX-000001] Проблема с оплатой" in str(
            email.message_from_bytes(reply.read_bytes(), policy=policy.default)["Subject"]
        )
    finally:
        assert serve.terminate() == 0


def _wait_for_ticket(config_path: Path, subject: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = json.loads(mailbot_cli(config_path, "tickets", "list", "--json").stdout)
        for ticket in listed:
            if ticket["subject"] == subject:
                return dict(ticket)
        time.sleep(0.2)
    raise TimeoutError(f"no ticket {subject!r} after {timeout} s")


def test_a_failing_spool_answers_451_and_the_retry_after_recovery_250(
    served: tuple[Serve, Path],
) -> None:
    """The sender must retry (4xx), never give up (5xx), while the spool cannot write."""
    serve, config_path = served
    spool_tmp = config_path.parent.parent / "spool" / "tmp"
    spool_tmp.rmdir()
    spool_tmp.write_text("in the way")  # the spool's first write now fails, root or not
    message = _mail("когда спул не пишет")
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(message)
        assert refused.value.smtp_code == 451, refused.value
    assert not list(spool_tmp.parent.glob("??/*.eml"))
    spool_tmp.unlink()
    spool_tmp.mkdir()
    with smtplib.SMTP("127.0.0.1", serve.port) as smtp:
        assert smtp.send_message(message) == {}  # the same mail, retried: accepted (250)
    ticket = _wait_for_ticket(config_path, "когда спул не пишет")
    assert ticket["requester"] == "olena@vector.test"
    assert len(list(spool_tmp.parent.glob("??/*.eml"))) == 1


def _wait_until_not_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except (ConnectionRefusedError, ConnectionResetError):  # reset: dropped from the backlog
            return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} still accepts connections after {timeout} s")


def test_sigterm_lets_an_open_session_finish_its_mail_then_exits_0(
    served: tuple[Serve, Path],
) -> None:
    serve, _ = served
    assert serve.proc is not None
    smtp = smtplib.SMTP("127.0.0.1", serve.port)
    try:
        assert smtp.ehlo()[0] == 250
        assert smtp.mail("olena@vector.test")[0] == 250
        assert smtp.rcpt("support@cleverbox.test")[0] == 250
        serve.proc.send_signal(signal.SIGTERM)
        _wait_until_not_listening(serve.port)  # serve is stopping: no new connections
        assert serve.alive()  # ... but it waits for this session
        code, answer = smtp.data(_mail("письмо во время остановки").as_bytes(policy=policy.SMTP))
        assert code == 250, answer
    finally:
        smtp.close()
    assert serve.proc.wait(30) == 0, serve.log.read_text()[-3000:]
    [stored] = (serve.config_path.parent.parent / "spool").glob("??/*.eml")
    kept = email.message_from_bytes(stored.read_bytes(), policy=policy.default)
    assert kept["Subject"] == "письмо во время остановки"
