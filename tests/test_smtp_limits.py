"""The SMTP receiver's hard edges, each against a real `mailbot serve` over real SMTP: a crowd
of idle connections, sessions kept alive with NOOP, a 25 MB mail of blank lines, long lines,
a spool write that fails, a writer lock held by someone else, and who may read `var/`."""

from __future__ import annotations

import fcntl
import hashlib
import os
import resource
import smtplib
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from mailbot import config as config_mod
from mailbot.ingest.smtp import DataDecoder
from tests.conftest import write_config
from tests.servers import Serve, mailbot_cli

SERVE_NOFILE = 256
"""File handles `serve` gets in the crowd test: the same exhaustion a default 1,024 meets
with a few more connections, reached here with 500."""


def _raw_mail(tag: str, body: bytes = b"Hello, the export stopped working.\r\n") -> bytes:
    return (
        b"From: olena@vector.test\r\nTo: support@cleverbox.test\r\n"
        + f"Subject: {tag}\r\nMessage-ID: <{tag}@vector.test>\r\n\r\n".encode()
        + body
    )


def _config(folder: Path, smtp_keys: str, *, max_size: int = 1048576) -> Path:
    """A config whose database and spool live in `folder/var` (which must not exist yet)."""
    path = write_config(folder, f"sqlite:///{folder / 'var' / 'mailbot.db'}", max_size=max_size)
    text = path.read_text()
    text = text.replace(f'path = "{folder / "spool"}"', f'path = "{folder / "var" / "spool"}"')
    text = text.replace(f'maildir = "{folder / "sent"}"', f'maildir = "{folder / "var" / "sent"}"')
    path.write_text(text.replace("[smtp]\n", f"[smtp]\n{smtp_keys}\n", 1))
    return path


def _start(config_path: Path, log: Path) -> Serve:
    port = config_mod.load(config_path, environ={}).settings.smtp.port
    return Serve(config_path, port, log).start()


def _stop(serve: Serve, log: Path) -> None:
    if serve.alive():
        assert serve.terminate(60) == 0, log.read_text()[-3000:]


def _greeting(sock: socket.socket, timeout: float = 20.0) -> bytes:
    """The first line the server says, b"" if it closed without a word."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n" not in data:
        piece = sock.recv(512)
        if not piece:
            break
        data += piece
    return data.split(b"\r\n", 1)[0]


def _connect_from(address: str, port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(address, 0))


def _send(port: int, raw: bytes, source: str = "127.0.0.1", timeout: float = 60.0) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout, source_address=(source, 0)) as smtp:
        smtp.sendmail("olena@vector.test", ["support@cleverbox.test"], raw)


# -- a crowd -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    folder = tmp_path_factory.mktemp("crowd")
    path = _config(
        folder,
        "max_sessions = 40\nmax_sessions_per_client = 10\n"
        "idle_timeout_seconds = 8\nsession_max_seconds = 12",
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    port = config_mod.load(path, environ={}).settings.smtp.port
    serve = Serve(path, port, folder / "serve.log", nofile=SERVE_NOFILE).start()
    # this process holds the crowd: it needs the handles serve is denied
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    yield serve
    _stop(serve, folder / "serve.log")
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_500_idle_connections_do_not_keep_a_real_sender_out(crowded: Serve) -> None:
    crowd: list[socket.socket] = []
    try:
        for _ in range(500):
            crowd.append(_connect_from("127.0.0.1", crowded.port))
        first_lines = [_greeting(sock) for sock in crowd]
        greeted = [line for line in first_lines if line.startswith(b"220")]
        assert len(greeted) == 10, first_lines[:12]  # max_sessions_per_client
        assert all(line.startswith(b"421") for line in first_lines if line not in greeted)

        started = time.monotonic()
        _send(crowded.port, _raw_mail("crowd-sender"), source="127.0.0.2", timeout=30)
        assert time.monotonic() - started < 30  # generous: it is a matter of milliseconds
        assert crowded.alive()
    finally:
        for sock in crowd:
            sock.close()


def test_sessions_in_all_are_capped_and_the_next_is_told_421(crowded: Serve) -> None:
    time.sleep(0.5)  # the previous test's sessions are closed by now
    crowd: list[socket.socket] = []
    try:
        for n in range(6):  # 6 addresses x 8 = 48 > max_sessions 40, each under its own cap
            crowd += [_connect_from(f"127.0.1.{n + 1}", crowded.port) for _ in range(8)]
        first_lines = [_greeting(sock) for sock in crowd]
        assert sum(line.startswith(b"220") for line in first_lines) == 40
        refused = [line for line in first_lines if not line.startswith(b"220")]
        assert refused and all(line.startswith(b"421") for line in refused), refused
    finally:
        for sock in crowd:
            sock.close()


def test_a_noop_now_and_then_does_not_keep_a_session_forever(crowded: Serve) -> None:
    with smtplib.SMTP(
        "127.0.0.1", crowded.port, timeout=10, source_address=("127.0.0.3", 0)
    ) as smtp:
        smtp.ehlo()
        started = time.monotonic()
        answers: list[int] = []
        try:
            while time.monotonic() - started < 40:  # session_max_seconds is 12
                answers.append(smtp.noop()[0])
                if answers[-1] != 250:
                    break
                time.sleep(2.0)  # under idle_timeout_seconds: only the whole-life limit helps
        except smtplib.SMTPServerDisconnected:
            answers.append(0)  # closed without our seeing its 421: ended all the same
        assert time.monotonic() - started < 40, "a session kept alive by NOOP was never closed"
        assert answers[-1] in (421, 0) and set(answers[:-1]) == {250}, answers


def test_a_silent_session_is_told_421_and_closed(crowded: Serve) -> None:
    sock = _connect_from("127.0.0.4", crowded.port)
    try:
        assert _greeting(sock).startswith(b"220")
        sock.sendall(b"EHLO silent.test\r\n")
        sock.settimeout(20)
        said = b""
        while True:  # the EHLO answer, then (idle_timeout_seconds later) 421 and the close
            piece = sock.recv(4096)
            if not piece:
                break
            said += piece
        assert said.splitlines()[-1].startswith(b"421"), said
    finally:
        sock.close()


# -- the spool side ------------------------------------------------------------------------


class Spooled:
    def __init__(self, folder: Path, serve: Serve) -> None:
        self.folder = folder
        self.serve = serve
        self.var = folder / "var"
        self.spool = self.var / "spool"

    def stored(self, raw: bytes) -> Path:
        sha = hashlib.sha256(raw).hexdigest()
        return self.spool / sha[:2] / f"{sha}.eml"

    def temporaries(self) -> list[Path]:
        return list((self.spool / "tmp").iterdir())


@pytest.fixture(scope="module")
def spooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spooled]:
    folder = tmp_path_factory.mktemp("spooled")
    path = _config(folder, "store_wait_seconds = 2", max_size=30 * 1024 * 1024)
    upgraded = mailbot_cli(path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    serve = _start(path, folder / "serve.log")
    yield Spooled(folder, serve)
    # Killed, not stopped: a stop waits for the worker, which may still be parsing the 25 MB
    # mail (bounding the parser is another part of issue 10; here only the receiver counts).
    assert serve.proc is not None
    tree = psutil.Process(serve.proc.pid)
    for process in [*tree.children(recursive=True), tree]:
        process.kill()
    serve.proc.wait(30)


def test_var_and_what_mailbot_stores_in_it_are_private(spooled: Spooled) -> None:
    raw = _raw_mail("private")
    _send(spooled.serve.port, raw)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(spooled.var) == 0o700
    assert mode(spooled.var / "mailbot.db") == 0o600
    assert mode(spooled.spool) == 0o700
    assert mode(spooled.stored(raw).parent) == 0o700
    assert mode(spooled.stored(raw)) == 0o600
    for side in spooled.var.glob("mailbot.db*"):  # -wal, -shm, the writers' lock
        assert mode(side) == 0o600, side
    for sub in ("tmp", "new", "cur"):  # the replies sent: mail too
        assert mode(spooled.var / "sent" / sub) == 0o700


def test_a_line_of_5000_characters_is_accepted_and_stored_intact(spooled: Spooled) -> None:
    raw = _raw_mail("long-line", b"x" * 5000 + b"\r\n.a leading dot survives\r\n")
    _send(spooled.serve.port, raw)
    assert spooled.stored(raw).read_bytes() == raw


def test_commands_pipelined_after_the_end_of_data_are_answered(spooled: Spooled) -> None:
    first, second = _raw_mail("pipelined-1"), _raw_mail("pipelined-2")
    envelope = b"MAIL FROM:<olena@vector.test>\r\nRCPT TO:<support@cleverbox.test>\r\nDATA\r\n"
    with socket.create_connection(("127.0.0.1", spooled.serve.port), timeout=30) as sock:
        reader = sock.makefile("rb")

        def answer() -> bytes:
            while (line := reader.readline()).startswith((b"220-", b"250-")):
                pass
            return line[:3]

        assert answer() == b"220"
        sock.sendall(b"EHLO pipelining.test\r\n")
        assert answer() == b"250"
        sock.sendall(envelope)
        assert [answer() for _ in range(3)] == [b"250", b"250", b"354"]
        # RFC 2920: the end of data and the next transaction in one write
        sock.sendall(first + b".\r\n" + envelope)
        assert [answer() for _ in range(4)] == [b"250", b"250", b"250", b"354"]
        sock.sendall(second + b".\r\nQUIT\r\n")
        assert [answer() for _ in range(2)] == [b"250", b"221"]
    assert spooled.stored(first).read_bytes() == first
    assert spooled.stored(second).read_bytes() == second


def test_a_sender_hanging_up_mid_data_leaves_no_temporary(spooled: Spooled) -> None:
    with socket.create_connection(("127.0.0.1", spooled.serve.port), timeout=30) as sock:
        reader = sock.makefile("rb")
        sock.sendall(
            b"HELO gone.test\r\nMAIL FROM:<olena@vector.test>\r\n"
            b"RCPT TO:<support@cleverbox.test>\r\nDATA\r\n"
        )
        answers = [reader.readline()[:3] for _ in range(5)]
        assert answers == [b"220", b"250", b"250", b"250", b"354"]
        sock.sendall(_raw_mail("hung-up") + b"x" * 200_000)  # and never the end
        deadline = time.monotonic() + 10
        while not spooled.temporaries() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spooled.temporaries(), "DATA is written to a spool temporary as it arrives"
        reader.close()  # else the socket stays open behind it
    deadline = time.monotonic() + 20
    while spooled.temporaries() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spooled.temporaries() == []


def test_a_failed_spool_write_answers_451_and_leaves_no_temporary(spooled: Spooled) -> None:
    raw = _raw_mail("in-the-way")
    final = spooled.stored(raw)
    final.parent.mkdir(exist_ok=True)
    final.mkdir()  # a folder where the mail's file must go: the rename fails
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(spooled.serve.port, raw)
        assert refused.value.smtp_code == 451
        answer = str(refused.value.smtp_error)
        assert str(spooled.folder) not in answer and "eml" not in answer, answer
        assert spooled.temporaries() == []
    finally:
        final.rmdir()
    _send(spooled.serve.port, raw)  # the sender's retry
    assert final.read_bytes() == raw


def test_a_stuck_writer_lock_gets_451_in_seconds_not_a_frozen_receiver(spooled: Spooled) -> None:
    raw = _raw_mail("stuck-lock")
    lock = os.open(spooled.var / "mailbot.db.writelock", os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a holder that never lets go
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(spooled.serve.port, raw, timeout=30)
        assert refused.value.smtp_code == 451
        assert time.monotonic() - started < 20  # store_wait_seconds is 2
        assert spooled.temporaries() == []
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    _send(spooled.serve.port, raw)  # once the lock is free the retry is accepted
    assert spooled.stored(raw).read_bytes() == raw


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_a_25mb_mail_of_blank_lines_keeps_the_receiver_small(spooled: Spooled) -> None:
    raw = _raw_mail("blank-lines", b"\r\n" * (25 * 1024 * 1024 // 2))
    assert spooled.serve.proc is not None
    _send(spooled.serve.port, raw, timeout=120)
    assert hashlib.sha256(spooled.stored(raw).read_bytes()).hexdigest() == (
        hashlib.sha256(raw).hexdigest()
    )
    peak = _peak_rss_mb(spooled.serve.proc.pid)
    assert peak < 300, f"serve's receiver peaked at {peak:.0f} MB for a 25 MB mail"


# -- DATA's end and dots, piece by piece ---------------------------------------------------


def _reference(stream: bytes) -> tuple[bytes, bytes]:
    """RFC 5321 4.5.2 line by line, as aiosmtpd does it."""
    lines: list[bytes] = []
    at = 0
    while True:
        end = stream.index(b"\r\n", at) + 2
        line, at = stream[at:end], end
        if line == b".\r\n":
            return b"".join(lines), stream[at:]
        lines.append(line[1:] if line.startswith(b".") else line)


@pytest.mark.parametrize("seed", range(4))
def test_data_decoder_agrees_with_line_by_line_reading_in_any_pieces(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    for _ in range(5000):
        stream = b"".join(rnd.choice([b"\r", b"\n", b".", b"a"]) for _ in range(rnd.randint(0, 16)))
        stream += b"\r\n.\r\n" + rnd.choice([b"", b"QUIT\r\n", b"\r\n.\r\n"])
        message, after = _reference(stream)
        decoder, got, at = DataDecoder(), b"", 0
        while not decoder.done:
            size = rnd.randint(1, 7)
            out, rest = decoder.feed(stream[at : at + size])
            got, at = got + out, at + size
        assert (got, rest + stream[at:]) == (message, after), stream
