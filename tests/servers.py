"""Servers for end-to-end tests: `mailbot serve` as a process, the SMTP catcher in this process
or as a process of its own, and their helpers."""

from __future__ import annotations

import email
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.catcher import CatchingHandler, smtp_options
from tests.conftest import REPO, free_port


def wait_for_port(
    port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


class _Caught:
    """What a catcher wrote to its folder: the mails, oldest first, and waiting for them."""

    folder: Path

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(self.folder.glob("*.eml"))
        ]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise TimeoutError(f"catcher got {len(self.messages())} messages, expected {count}")


class Catcher(_Caught):
    """The outside world's SMTP server in this process: real SMTP over loopback, no process.

    aiosmtpd's `Controller` serves from a thread of its own, so a test can block on
    `wait_for` while mail arrives.
    """

    def __init__(self, folder: Path, tls: tuple[Path, Path, str, str] | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        options = smtp_options(tls)
        self._controller = Controller(
            CatchingHandler(folder),
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=20.0,
            server_hostname=options.pop("hostname"),
            **options,
        )
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Catcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CatcherProcess(_Caught):
    """tests/catcher.py in its own process: for tests where processes are the point."""

    def __init__(self, folder: Path, tls: tuple[Path, Path, str, str] | None = None) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "catcher.py"), str(self.port), str(folder)]
            + [str(arg) for arg in tls or ()],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class Serve:
    """`mailbot serve` as a subprocess, started and killed like an operator would."""

    def __init__(self, config_path: Path, port: int, log: Path, nofile: int | None = None) -> None:
        self.config_path = config_path
        self.port = port
        self.log = log
        self.nofile = nofile
        """A file-handle limit for serve alone (set in the child: the test process may
        already hold more handles than serve is to be given)."""
        self.proc: subprocess.Popen[bytes] | None = None

    def _limit(self) -> None:
        if self.nofile is not None:
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, hard))

    def start(self) -> Serve:
        env = {**os.environ, "MAILBOT_CONFIG": str(self.config_path)}
        env.pop("MAILBOT_DATABASE_URL", None)
        env.pop("MAILBOT_RELAY_URL", None)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mailbot", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit if self.nofile is not None else None,
            )
        try:
            # generous: a loaded 2-core machine with coverage on can take long to import
            wait_for_port(self.port, timeout=90.0, proc=self.proc)
        except RuntimeError as exc:  # serve exited: what it said is the failure's reason
            tail = self.log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{exc}; serve's log ends:\n" + "\n".join(tail)) from None
        except BaseException:
            # a serve that never listened must not outlive its test (it would hold CPU and
            # ports for every test after it)
            self.proc.kill()
            self.proc.wait(10)
            raise
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def mailbot_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILBOT_CONFIG": str(config_path)}
    return subprocess.run(
        [sys.executable, "-m", "mailbot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
