"""The SMTP door in process (aiosmtpd's Controller): what a sender hears when something
unforeseen breaks, and when serve stops while it is connected."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from mailbot.config import Config
from mailbot.ingest.smtp import Door, SpoolHandler
from mailbot.spool import Spool
from mailbot.store import Database
from tests.conftest import free_port

MAIL = (
    b"From: olena@vector.test\r\nTo: support@cleverbox.test\r\nSubject: test\r\n"
    b"Message-ID: <door-1@vector.test>\r\n\r\nhello\r\n"
)


class _DoorController(Controller):
    def __init__(self, door: Door, port: int) -> None:
        super().__init__(door.handler, hostname="127.0.0.1", port=port)
        self.door = door

    def factory(self) -> SMTP:
        return self.door.factory()


@dataclass
class Running:
    door: Door
    controller: _DoorController
    executor: ThreadPoolExecutor
    spool: Spool

    def drain(self, timeout: float) -> bool:
        """`Door.drain` on the receiver's own loop, as serve calls it at stop."""
        future = asyncio.run_coroutine_threadsafe(self.door.drain(timeout), self.controller.loop)
        return future.result(timeout + 10)

    def connect(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.controller.port)


@pytest.fixture
def running(sqlite_config: Config) -> Iterator[Running]:
    db = Database(sqlite_config.database_url)
    db.upgrade()
    spool = Spool(sqlite_config.spool_dir, db)
    executor = ThreadPoolExecutor(max_workers=2)
    door = Door(sqlite_config, SpoolHandler(sqlite_config, spool, executor))
    controller = _DoorController(door, free_port())
    controller.start()
    yield Running(door, controller, executor, spool)
    controller.stop()
    executor.shutdown()
    db.dispose()


def test_an_unforeseen_error_storing_a_mail_answers_451_with_its_context_logged(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    running.executor.shutdown()  # what a session meets that outlives serve's spool threads
    with caplog.at_level(logging.ERROR, "mailbot.smtp"), running.connect() as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("olena@vector.test", ["support@cleverbox.test"], MAIL)
        assert refused.value.smtp_code == 451
    [record] = [r for r in caplog.records if r.name == "mailbot.smtp"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert record.__dict__["mail_from"] == "olena@vector.test"
    assert record.__dict__["rcpt_to"] == ["support@cleverbox.test"]


def test_an_unforeseen_error_outside_data_answers_451_not_500(
    running: Running, sqlite_config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_config._by_address = None  # type: ignore[assignment]  # a config broken under us
    with caplog.at_level(logging.ERROR, "mailbot.smtp"), running.connect() as smtp:
        smtp.ehlo()
        assert smtp.mail("olena@vector.test")[0] == 250
        code, answer = smtp.rcpt("support@cleverbox.test")
    assert code == 451, answer
    assert any(r.exc_info for r in caplog.records if r.name == "mailbot.smtp")


def test_stop_tells_an_idle_session_421_and_lets_one_in_a_transaction_finish(
    running: Running,
) -> None:
    idle = running.connect()
    busy = running.connect()
    try:
        assert idle.ehlo()[0] == 250
        busy.ehlo()
        assert busy.mail("olena@vector.test")[0] == 250
        assert busy.rcpt("support@cleverbox.test")[0] == 250
        stopping = asyncio.run_coroutine_threadsafe(running.door.drain(60), running.controller.loop)
        assert idle.getreply()[0] == 421  # said unasked, then closed
        assert not stopping.done()  # still waiting for `busy`
        code, answer = busy.data(MAIL)
        assert code == 250, answer
        assert stopping.result(30) is True
        assert running.door.sessions == set()
    finally:
        idle.close()
        busy.close()
    assert len(list(running.spool.folder.glob("??/*.eml"))) == 1


def test_stop_cuts_off_a_session_that_never_finishes_after_the_timeout(
    running: Running,
) -> None:
    stalled = running.connect()
    try:
        stalled.ehlo()
        assert stalled.mail("olena@vector.test")[0] == 250
        assert running.drain(0.2) is False
        assert stalled.getreply()[0] == 421
    finally:
        stalled.close()
