"""What every command shares: the configuration, the database or the whole App (built only
when a command acts), the one clock and `--now`, and how errors become exit codes.

Read-only commands take `database(ctx)`: the configuration and a `Database`, no migrations
and no rules loaded, so looking is quick. The queue takes `queue_reader(ctx)`, which on a
SQLite file needs not even SQLAlchemy. Commands that act take `app(ctx)`.
"""

from __future__ import annotations

import getpass
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from mailbot import config as config_mod
from mailbot import logs
from mailbot.clock import Clock, fixed, parse_moment, system_clock
from mailbot.errors import ConfigError, DatabaseUnavailable, MailbotError
from mailbot.redact import masked

if TYPE_CHECKING:
    from mailbot.service import App
    from mailbot.spool import Spool
    from mailbot.store import Database
    from mailbot.store.reader import QueueReader


def fail(exc: MailbotError) -> None:
    click.echo(f"mailbot: {exc}", err=True)
    sys.exit(exc.exit_code)


class Group(click.Group):
    """A click group that turns a MailbotError into one line and its exit code, and a
    database that went away in the middle of a command into `DatabaseUnavailable`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailbotError as exc:
            fail(exc)
        except Exception as exc:
            if not _is_database_error(exc):
                raise
            url = ctx.find_root().ensure_object(dict).get("database_url", "")
            fail(DatabaseUnavailable.of(url, exc))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command with its whole first sentence, wrapped: click's default cuts it at
        45 characters, which left "Extend the resolution deadline (e.g." as a summary."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def known_desk(config: config_mod.Config, name: str) -> config_mod.DeskSettings:
    """The desk a --desk option names; else a usage error (2) listing the desks, so that a
    typo never reads as "no tickets" or "not found"."""
    desk = config.desks.get(name)
    if desk is None:
        raise click.BadParameter(
            f"{name!r} is no desk; the desks are: {', '.join(sorted(config.desks))}",
            param_hint="'--desk'",
        )
    return desk


def _is_database_error(exc: BaseException) -> bool:
    """A driver's "cannot connect / cannot open / cannot write" error. SQLAlchemy is looked
    up only if something already imported it: `tickets list` must not pay for its import."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


DATABASE_SCHEMES = ("sqlite", "postgresql")
"""The databases mailbot runs on (with any driver: postgresql+psycopg://...)."""


def _bad_url(url: str, why: str) -> ConfigError:
    return ConfigError(
        f"[database] url (or ${config_mod.ENV_DATABASE_URL}) {masked(url)!r}: {why}; expected"
        f" sqlite:///path/to/file.db or postgresql://user@host:5432/database"
    )


def check_database_url(url: str) -> None:
    """A URL that cannot name a database is bad configuration (78), not an unreachable
    server (69): said before any driver tries it, without importing SQLAlchemy."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        raise _bad_url(url, str(exc)) from None
    if parts.scheme.split("+", 1)[0] not in DATABASE_SCHEMES or "://" not in url:
        raise _bad_url(url, f"not a URL of {' or '.join(DATABASE_SCHEMES)}")


@contextmanager
def opening_database(url: str) -> Iterator[None]:
    """Errors of opening the store (a folder that cannot be made, a server that does not
    answer) as one `DatabaseUnavailable` line instead of a driver's traceback; a URL no
    driver can read as one `ConfigError` line."""
    check_database_url(url)
    try:
        yield
    except MailbotError:
        raise
    except OSError as exc:
        raise DatabaseUnavailable.of(url, exc) from exc
    except Exception as exc:
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is not None and isinstance(exc, (sa_exc.ArgumentError, sa_exc.NoSuchModuleError)):
            raise _bad_url(url, str(exc).splitlines()[0]) from exc
        if not _is_database_error(exc):
            raise
        raise DatabaseUnavailable.of(url, exc) from exc


def config(ctx: click.Context) -> config_mod.Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = config_mod.load(obj.get("config_path"))
        obj["database_url"] = obj["config"].database_url
        settings = obj["config"].settings.logging
        logs.setup(settings.level, settings.format)
    loaded: config_mod.Config = obj["config"]
    return loaded


def database(ctx: click.Context) -> Database:
    """The store, for reading: no rules, no renderer, and migrations only on a database that
    has never had the schema (so a first look at a fresh install answers "no tickets")."""
    from mailbot.store import Database

    obj = ctx.ensure_object(dict)
    if "app" in obj:
        built: Database = obj["app"].db
        return built
    if "db" not in obj:
        url = config(ctx).database_url
        with opening_database(url):
            db = Database(url)
            ctx.call_on_close(db.dispose)
            if not db.has_schema():
                db.upgrade()  # a fresh database: create it, as `serve` would, and read it empty
        obj["db"] = db
    opened: Database = obj["db"]
    return opened


def queue_reader(ctx: click.Context) -> QueueReader:
    """The quickest way to read the queue: the standard library's sqlite3 on a SQLite file
    that has its schema, else the `database(ctx)` (which creates a fresh one)."""
    from mailbot.store.reader import open_reader

    url = config(ctx).database_url
    with opening_database(url):
        reader = open_reader(url, lambda: database(ctx))
    ctx.call_on_close(reader.close)
    return reader


def spool(ctx: click.Context) -> Spool:
    """The spool folder and its rows, for reading."""
    from mailbot.spool import Spool

    return Spool(config(ctx).spool_dir, database(ctx), clock(ctx))


def app(ctx: click.Context) -> App:
    """Everything a command that acts needs: migrated store, spool, rules, renderer."""
    from mailbot.service import App

    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        loaded = config(ctx)
        with opening_database(loaded.database_url):
            obj["app"] = App.build(loaded, clock=clock(ctx))
    built: App = obj["app"]
    return built


def clock(ctx: click.Context) -> Clock:
    """The command's one clock: stopped at --now when given, else the system's."""
    moment = ctx.ensure_object(dict).get("now")
    return fixed(moment) if moment is not None else system_clock


def now(ctx: click.Context) -> datetime:
    return clock(ctx)()


def moment(value: str) -> datetime:
    """A time given on the command line (ISO 8601 with its offset)."""
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _set_now(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(dict)["now"] = moment(value)


now_option = click.option(
    "--now",
    callback=_set_now,
    expose_value=False,
    is_eager=True,
    metavar="ISO",
    help="Act as of this time (ISO 8601 with its offset, e.g. 2026-11-23T10:00+02:00): for "
    "replays and tests. Default: the system clock.",
)


def who(by: str | None) -> str:
    """The person acting: --by, else the login name."""
    return by or getpass.getuser()


def short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What a terminal acts on instead of showing: C0 and C1 controls (ESC starts sequences
that clear the screen or set the window title; 0x9b is CSI on its own), line and paragraph
separators, and the bidirectional overrides that make text read other than it is."""
_UNSAFE_KEEP_TAB = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object, *, keep_tab: bool = False) -> str:
    """Text from a mail as a terminal may show it: every control character written as an
    escape (`\\x1b`), so a subject cannot clear the agent's screen or retitle the window.
    None is shown as "-" (never "None"). For --json output, which stays exact, do not use."""
    if value is None:
        return "-"
    text = str(value)
    return (_UNSAFE_KEEP_TAB if keep_tab else _UNSAFE).sub(_escape, text)


def when(value: datetime | str | None, zone: tzinfo) -> str:
    """`2026-11-20T09:55:00+00:00` -> `2026-11-20 11:55 +02:00`: minutes, in the desk's zone,
    with the offset (a reader in another zone knows what it means); "-" for no time."""
    if value is None or value == "":
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
