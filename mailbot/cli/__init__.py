"""cli: the `mailbot` command (click), a module per command group. Thin: each command parses
its options, calls one function of a room, and prints.

Exit codes: 0 done; 1 a mailbot error; 2 a usage error (click); 65 unreadable input or an
action the ticket's state refuses; 66 something named was not found; 74 the spool could not
store; 78 bad configuration.
"""

from __future__ import annotations

from pathlib import Path

import click

from mailbot.cli import _context as c
from mailbot.cli.ingest import ingest
from mailbot.cli.packages import packages
from mailbot.cli.quarantine import quarantine
from mailbot.cli.reprocess import reprocess
from mailbot.cli.service import check_config, db, poll, serve, worker
from mailbot.cli.sla import sla
from mailbot.cli.tickets import tickets


@click.group(cls=c.Group, context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (
    serve,
    poll,
    worker,
    check_config,
    db,
    ingest,
    reprocess,
    quarantine,
    tickets,
    packages,
    sla,
):
    cli.add_command(command)


def main() -> None:
    cli(obj={})


__all__ = ["cli", "main"]
