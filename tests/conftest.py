"""Shared fixtures: a project configuration in a temporary folder, on SQLite or PostgreSQL.

The `db_url` fixture runs a test twice: on a fresh SQLite file and on the PostgreSQL server at
127.0.0.1:5432 (database `test`), each run in a schema of its own so parallel runs never
collide. Where no PostgreSQL answers, the PostgreSQL half is skipped with a line saying so.
"""

from __future__ import annotations

import email
import os
import runpy
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest
from click.testing import CliRunner, Result

from mailbot import config as config_mod
from mailbot.pipeline import Worker

if TYPE_CHECKING:
    from mailbot.outcomes import Outcome
    from mailbot.service import App
    from tests.servers import Catcher

REPO = Path(__file__).resolve().parent.parent
SLEEP_SHIM = Path(__file__).resolve().parent / "sleep_shim"


def _install_sleep_shim() -> None:
    """Under a libfaketime whose sleep is broken (see sleep_shim/sitecustomize.py), sleep
    through `select` here and in every Python process the tests start."""
    try:
        time.sleep(0.0001)
    except OSError:
        runpy.run_path(str(SLEEP_SHIM / "sitecustomize.py"), run_name="sleep_shim")
        paths = [str(SLEEP_SHIM), *filter(None, [os.environ.get("PYTHONPATH")])]
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)


_install_sleep_shim()
CORPORA = REPO.parent / "shared" / "corpora"
SHIPPED_DESKS = REPO / "config" / "desks"
FOUNDATION_DESKS = REPO / "tests" / "desks"
"""The shipped desks' addresses with only the loop rule: for tests of transport and pipeline."""
PG_ADMIN_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_connect() -> object:
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, connect_timeout=3, autocommit=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mailbot.db'}"
        return
    try:
        conn = _pg_connect()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not answering at {PG_ADMIN_URL}: {exc}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[attr-defined]
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    folder: Path,
    db_url: str,
    *,
    listen: str | None = None,
    relay: tuple[str, int] | None = None,
    extra: str = "",
    desks: Path | None = None,
    max_size: int = 1048576,
    templates: Path | None = None,
) -> Path:
    """A mailbot.toml in `folder/config`: the given (or foundation) desks and templates."""
    listen = listen or f"127.0.0.1:{free_port()}"
    cfg_dir = folder / "config"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    desks_dir = desks or FOUNDATION_DESKS
    relay_block = ""
    if relay:
        relay_block = (
            f'\n[outbound.relay]\nhost = "{relay[0]}"\nport = {relay[1]}\ntimeout = 10.0\n'
        )
    text = f'''
desks_dir = "{desks_dir}"
templates_dir = "{templates or REPO / "templates"}"
[database]
url = "{db_url}"
[spool]
path = "{folder / "spool"}"
[smtp]
listen = "{listen}"
max_message_size = {max_size}
[outbound]
maildir = "{folder / "sent"}"
retry_base_seconds = 0.2
retry_max_seconds = 1.0
[logging]
level = "WARNING"
format = "json"
{relay_block}{extra}'''
    path = cfg_dir / "mailbot.toml"
    path.write_text(text)
    return path


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> config_mod.Config:
    return config_mod.load(write_config(tmp_path, db_url), environ={})


@pytest.fixture
def sqlite_config(tmp_path: Path) -> config_mod.Config:
    return config_mod.load(
        write_config(tmp_path, f"sqlite:///{tmp_path / 'mailbot.db'}"), environ={}
    )


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[Catcher]:
    """An SMTP server in this process catching outbound mail into `tmp_path/caught`."""
    from tests.servers import Catcher  # servers.py imports this module

    with Catcher(tmp_path / "caught") as running:
        yield running


def copy_desks(folder: Path) -> Path:
    target = folder / "desks"
    shutil.copytree(REPO / "config" / "desks", target)
    return target


class Ran(NamedTuple):
    """What one command left behind, in the order a test unpacks it: `code, out, err = run(...)`."""

    code: int
    out: str
    err: str


def invoke(config: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """`mailbot --config <config> <args>` in this process, as click's CliRunner runs it.

    An exception that is not an exit is raised again: a crash shows its traceback in the
    test's report instead of passing for exit code 1.
    """
    # imported here, not at the top: a CLI that fails to import fails the tests that use it,
    # not the collection of every test
    from mailbot.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(config), *args], obj={}, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def run(config: Path, *args: str, env: Mapping[str, str] | None = None) -> Ran:
    """A command's exit code, standard output and standard error (see `invoke`)."""
    result = invoke(config, *args, env=env)
    return Ran(result.exit_code, result.stdout, result.stderr)


def stdout_of(config: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """The standard output of a command that must succeed; else what it said, as the failure."""
    code, out, err = run(config, *args, env=env)
    assert code == 0, out + err
    return out


def deliver(
    app: App,
    raw: bytes,
    rcpt: str | Sequence[str] = "support@cleverbox.test",
    mail_from: str | None = None,
    source: str = "smtp",
) -> Outcome:
    """Accept one mail as the SMTP receiver would, and process it in this process."""
    rcpt_to = [rcpt] if isinstance(rcpt, str) else list(rcpt)
    spool_id = app.spool.accept(raw, source, mail_from=mail_from, rcpt_to=rcpt_to)
    worker = Worker(app.pipeline)
    try:
        outcomes = worker.run_items(app.spool.claim(worker.name, 1, ids=[spool_id]))
    finally:
        worker.close()
    assert len(outcomes) == 1, "the item failed; see the log"
    return outcomes[0]


def wait_until(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for an event a test cannot be told of (a process gone, a row written); the timeout
    only guards against a hang, it is no speed figure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what}: not after {timeout} s")


def send_all(config: Path) -> None:
    """Send every reply the outbox holds now (to the relay or maildir of `config`)."""
    from mailbot.service import App

    app = App.build(config_mod.load(config, environ={}))
    sender = app.sender()
    while sender.send_due():
        pass
    sender.close()
    app.db.dispose()


def sent_to(config: Path, address: str) -> list[EmailMessage]:
    """The mails delivered to `address` in the outbound maildir of `config`, after sending
    every reply the outbox holds now."""
    send_all(config)
    folder = config.parent.parent / "sent" / "new"
    paths = sorted(folder.iterdir()) if folder.is_dir() else []
    sent = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]
    return [m for m in sent if str(m["To"]) == address]
