"""cli: the `mailbot` command (click), a module per command group. Thin: each command parses
its options, calls one function of a room, and prints.

Exit codes, one meaning each for every command (the README's table; `mailbot.errors` holds
the exceptions that carry them):
  0 done; 1 a mailbot error that fits nothing else; 2 a usage error (click: a bad option
  value, options that exclude each other, an id prefix that fits several entries);
  3 refused: the ticket's state or the desk's rules do not allow the action; 4 unhealthy
  (`status --check`); 65 unreadable input (mail that is not e-mail); 66 not found;
  69 unavailable: a server or resource mailbot needs (database, IMAP, relay, listen port);
  70 `reprocess`: the counts do not add up; 74 the spool could not store; 75 `reprocess`:
  items still pending; 78 bad configuration (a malformed MAILBOT_RELAY_URL or
  MAILBOT_DATABASE_URL too).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import click

from mailbot.cli import _context as c

COMMANDS = {
    "serve": "mailbot.cli.service:serve",
    "poll": "mailbot.cli.service:poll",
    "worker": "mailbot.cli.service:worker",
    "check-config": "mailbot.cli.service:check_config",
    "db": "mailbot.cli.service:db",
    "ingest": "mailbot.cli.ingest:ingest",
    "reprocess": "mailbot.cli.reprocess:reprocess",
    "quarantine": "mailbot.cli.quarantine:quarantine",
    "tickets": "mailbot.cli.tickets:tickets",
    "packages": "mailbot.cli.packages:packages",
    "customers": "mailbot.cli.customers:customers",
    "sla": "mailbot.cli.sla:sla",
    "status": "mailbot.cli.status:status",
    "outbox": "mailbot.cli.outbox:outbox",
}
"""Each command's module is imported when the command is asked for: `mailbot tickets list`
loads the tickets group, not the modules of `serve`, `reprocess` or `packages`."""


class _Commands(c.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")
        command: click.Command = getattr(import_module(module), name)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="MAILBOT_CONFIG",
    help="Main configuration file. Default: config/mailbot.toml (or $MAILBOT_CONFIG).",
)
@click.version_option(package_name="mailbot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """mailbot: an e-mail support desk engine.

    Customers write to a desk's address; mailbot keeps every mail durably, opens or updates a
    ticket and answers from templates with the ticket number and the deadline.

    \b
    Start here:
      mailbot check-config      validate config/mailbot.toml and every desk file
      mailbot serve             receive over SMTP (and IMAP), process, send replies
      mailbot poll --once       read the [[imap]] mailboxes once, without serve
      mailbot ingest FILE...    take .eml files in, one JSON line per message
      mailbot reprocess SOURCE  a whole maildir or mbox again, safely (try --dry-run)
      mailbot tickets list      the queue, in the order it is worked
    """
    ctx.ensure_object(dict)["config_path"] = config_path


def main() -> None:
    cli(obj={})


__all__ = ["cli", "main"]
