"""What every command shares: the configuration, the database or the whole App (built only
when a command acts), the one clock and `--now`, and how errors become exit codes.

Read-only commands take `database(ctx)`: the configuration and a `Database`, no migrations
and no rules loaded, so looking is quick. The queue takes `queue_reader(ctx)`, which on a
SQLite file needs not even SQLAlchemy. Commands that act take `app(ctx)`.
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from mailbot import config as config_mod
from mailbot import logs
from mailbot.clock import Clock, fixed, parse_moment, system_clock
from mailbot.errors import MailbotError

if TYPE_CHECKING:
    from mailbot.service import App
    from mailbot.spool import Spool
    from mailbot.store import Database
    from mailbot.store.reader import QueueReader


def fail(exc: MailbotError) -> None:
    click.echo(f"mailbot: {exc}", err=True)
    sys.exit(exc.exit_code)


class Group(click.Group):
    """A click group that turns a MailbotError into one line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailbotError as exc:
            fail(exc)


def config(ctx: click.Context) -> config_mod.Config:
    obj = ctx.ensure_object(dict)
    if "config" not in obj:
        obj["config"] = config_mod.load(obj.get("config_path"))
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

    reader = open_reader(config(ctx).database_url, lambda: database(ctx))
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
        obj["app"] = App.build(config(ctx), clock=clock(ctx))
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
