"""A real Dovecot IMAP server for the tests: a throw-away configuration, passwd file and
maildir under a folder of its own, listening on free loopback ports.

Dovecot refuses to keep mail as root, so the mail lives as the `mail` user (the tests run as
root; elsewhere they are skipped with the reason). Everything sits in a short folder under
/tmp rather than pytest's tmp_path: the mail user must be able to reach it (pytest's folders
are private to root) and Dovecot's unix sockets need a short path.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from tests.conftest import free_port
from tests.servers import wait_for_port

DOVECOT = Path("/usr/sbin/dovecot")
USER = "support@grsoft.test"
PASSWORD = "s3cret-Imap-Pa55"
"""What a test looks for in logs and output: it must never appear there."""

_CONF = """\
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {mail_uid}
mail_uid = {mail_uid}
mail_gid = {mail_gid}
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
{capability}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def skip_reason() -> str | None:
    if not DOVECOT.exists():
        return f"Dovecot is not installed ({DOVECOT}); `make system-deps` installs dovecot-imapd"
    if os.geteuid() != 0:
        return "Dovecot keeps test mail as the `mail` user, which needs the tests to run as root"
    try:
        pwd.getpwnam("mail")
        pwd.getpwnam("dovenull")
        pwd.getpwnam("dovecot")
    except KeyError as exc:
        return f"a user Dovecot needs is missing: {exc}"
    return None


class Dovecot:
    """One Dovecot master process; `stop`/`start` it to play an outage."""

    def __init__(self, *, tls: bool = False, capability: str | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="dcv", dir="/tmp"))
        self.base.chmod(0o755)
        self.port = free_port()
        self.ssl_port = free_port()
        mail = pwd.getpwnam("mail")
        home = self.base / "home"
        home.mkdir()
        os.chown(home, mail.pw_uid, mail.pw_gid)
        (self.base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        ssl_files = ""
        if tls:
            cert, key = self.base / "cert.pem", self.base / "key.pem"
            subprocess.run(
                [
                    *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                    *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
                ],
                check=True,
                capture_output=True,
            )
            ssl_files = f"ssl_cert = <{cert}\nssl_key = <{key}"
        self.conf = self.base / "dovecot.conf"
        self.conf.write_text(
            _CONF.format(
                base=self.base,
                ssl="yes" if tls else "no",
                ssl_files=ssl_files,
                mail_uid=mail.pw_uid,
                mail_gid=mail.pw_gid,
                capability=f"imap_capability = {capability}" if capability else "",
                port=self.port,
                ssl_port=self.ssl_port,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Dovecot:
        # libfaketime (the suite may run under it) has no business inside the mail server
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "FAKE"))}
        self.proc = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(self.conf)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: `stop` reaches every child
        )
        try:
            wait_for_port(self.port, proc=self.proc)
            self._until_login_works()
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}; dovecot log:\n{self.log}") from exc
        return self

    def _until_login_works(self, timeout: float = 20.0) -> None:
        """Listening is not ready: the first connections are reset until auth is up."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().logout()
                return
            except (OSError, IMAPClientError) as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no IMAP login after {timeout} s: {exc}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to every process of this server, the imap processes serving open
        connections included (they outlive a master stopped alone): every client is cut."""
        if self.proc is None or self.proc.returncode is not None:
            return
        group = self.proc.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        # a child still holding the port would make the next start fail
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _listening(self.port):
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    # -- what a test does to the mailbox, as another mail client would -----------------

    def url(self, folder: str = "INBOX", *, tls: bool = False) -> str:
        user = USER.replace("@", "%40")
        if tls:
            return f"imaps://{user}@127.0.0.1:{self.ssl_port}/{folder}"
        return f"imap://{user}@127.0.0.1:{self.port}/{folder}"

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        try:
            client.login(USER, PASSWORD)
        except BaseException:
            with contextlib.suppress(OSError):
                client.shutdown()
            raise
        client.normalise_times = False
        return client

    def append(
        self,
        mails: Sequence[bytes],
        folder: str = "INBOX",
        *,
        when: datetime | None = None,
    ) -> list[int]:
        """APPEND each mail; returns their UIDs (Dovecot answers APPENDUID)."""
        uids = []
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in mails:
                answer = client.append(folder, raw, msg_time=when)
                uids.append(_appended_uid(answer))
        return uids

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """Every message's flags and keywords, by UID."""
        with self.client() as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {
                uid: {f.decode() if isinstance(f, bytes) else str(f) for f in data[b"FLAGS"]}
                for uid, data in fetched.items()
            }

    def count(self, folder: str = "INBOX") -> int:
        with self.client() as client:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])

    def maildir(self, folder: str = "INBOX") -> Path:
        root = self.base / "home" / USER / "Maildir"
        return root if folder == "INBOX" else root / f".{folder}"


def _appended_uid(answer: bytes) -> int:
    # b"[APPENDUID 1700000000 7] Append completed."
    text = answer.decode()
    return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start_dovecot(*, tls: bool = False, capability: str | None = None) -> Dovecot:
    """A started server (the caller closes it); the test is skipped with the reason where
    Dovecot cannot run."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = Dovecot(tls=tls, capability=capability)
    try:
        return server.start()
    except BaseException:
        server.close()
        raise


def running_dovecot(*, tls: bool = False, capability: str | None = None) -> Iterator[Dovecot]:
    """For a fixture: a started server, stopped and removed after the test."""
    server = start_dovecot(tls=tls, capability=capability)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    yield from running_dovecot()
