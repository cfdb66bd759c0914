"""`mailbot serve`'s worker processes: they die with serve, even on kill -9, and one that
dies is replaced while serve goes on receiving."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailbot import config as config_mod
from mailbot.service import PARENT_PID_VARIABLE
from tests.conftest import wait_until, write_config
from tests.servers import Serve, mailbot_cli


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Serve]:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, tmp_path / "serve.log").start()
    yield serve
    if serve.alive():
        assert serve.terminate() == 0, serve.log.read_text()[-3000:]


def _workers_of(serve: Serve) -> set[int]:
    assert serve.proc is not None
    pid = serve.proc.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody reaped yet (its parent died first)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_a_worker_whose_serve_is_gone_stops_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}")
    not_our_parent = os.getpid() + 1_000_000  # no such process is this worker's parent
    result = subprocess.run(
        [sys.executable, "-m", "mailbot", "--config", str(path), "worker"],
        env={**os.environ, PARENT_PID_VARIABLE: str(not_our_parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert f"serve (pid {not_our_parent}) is gone" in result.stderr
    assert "ready" not in result.stdout


def test_kill_9_of_serve_takes_its_worker_along(served: Serve) -> None:
    [worker] = _workers_of(served)
    served.kill9()
    wait_until("the worker exits with serve", lambda: _gone(worker))


def _new_worker(serve: Serve, old: int) -> int:
    wait_until(f"a worker replaces pid {old}", lambda: bool(_workers_of(serve) - {old}))
    return (_workers_of(serve) - {old}).pop()


def test_a_killed_worker_is_replaced_and_the_door_answers_while_it_starts(
    served: Serve,
) -> None:
    [first] = _workers_of(served)
    os.kill(first, signal.SIGKILL)
    replacement = _new_worker(served, first)
    # a replacement slow to get ready (frozen before it can say so) must not hold up SMTP
    os.kill(replacement, signal.SIGSTOP)
    message = EmailMessage()
    message["From"] = "olena@vector.test"
    message["To"] = "support@cleverbox.test"
    message["Subject"] = "после замены обработчика"
    message.set_content("Добрый день!")
    try:
        with smtplib.SMTP("127.0.0.1", served.port, timeout=10) as smtp:
            assert smtp.send_message(message) == {}
    finally:
        os.kill(replacement, signal.SIGCONT)

    def ticket_opened() -> bool:
        listed = mailbot_cli(served.config_path, "tickets", "list", "--json")
        return [t["subject"] for t in json.loads(listed.stdout)] == ["после замены обработчика"]

    wait_until("the replacement makes the mail a ticket", ticket_opened)
