"""`ingest`: take mail files in as if they had arrived now, one JSON line per file."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from mailbot.cli import _context as c
from mailbot.errors import NotFound

NO_REPLIES = "ingest --no-replies: replies suppressed"
"""Why the history says no reply went out for mail taken in with --no-replies."""


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--desk", help="Route every file to this desk instead of by its recipients.")
@click.option(
    "--dry-run", is_flag=True, help="Run every rule and print the outcome; write and send nothing."
)
@click.option(
    "--no-replies",
    is_flag=True,
    help="Open and update tickets but queue no automatic reply (the history says so).",
)
@click.option(
    "--wait",
    default=30.0,
    show_default=True,
    help="Seconds to wait for an item another process (mailbot serve) is working on.",
)
@c.now_option
@click.pass_context
def ingest(
    ctx: click.Context,
    files: Sequence[Path],
    desk: str | None,
    dry_run: bool,
    no_replies: bool,
    wait: float,
) -> None:
    """Take mail files in, as if they had arrived now, and process them.

    A FILE is one .eml message, an mbox file (first line `From `: each message in it) or a
    folder (a maildir, or mail files). Prints one JSON line per file (per message of an mbox
    or folder, with its key there): file, key, spool_id, desk, outcome (ticket, quarantined
    or dropped), ticket, reason, detail, missing, product, type, category, impact, urgency,
    priority, sla_level.
    Arrival time is taken from the newest Received: header. For a whole mailbox, prefer
    `mailbot reprocess` (batched, with a summary that adds up).
    With --no-replies the tickets are opened and updated as usual but no automatic reply is
    queued (for mail the customers must not hear about again); the history says so.
    Exits 0 when every message was accepted (whatever its outcome), 66 when some could not
    be read.
    """
    from mailbot.pipeline import Worker, dry_run_bytes, process_now

    if desk:
        c.known_desk(c.config(ctx), desk)
    app = c.app(ctx)
    worker = Worker(app.pipeline)
    suppressed = NO_REPLIES if no_replies else None
    failed = False
    max_size = app.config.settings.smtp.max_message_size
    # the bar goes to stderr (and only to a terminal), so stdout stays pure JSON lines
    bar = click.progressbar(files, label="ingesting", file=sys.stderr, show_pos=True)
    with bar, contextlib.closing(worker):
        for path in bar:
            for key, raw, error in _messages(path, max_size):
                line: dict[str, Any]
                if raw is None:
                    failed = True
                    line = {"spool_id": None, "outcome": "refused", "reason": error}
                elif dry_run:
                    line = dry_run_bytes(app.pipeline, raw, desk)
                else:
                    spool_id = app.spool.accept(raw, "file")
                    line = process_now(worker, spool_id, desk, wait, suppressed)
                where = {"file": str(path)} | ({"key": key} if key is not None else {})
                click.echo(json.dumps(where | line, ensure_ascii=False))
    if failed:
        sys.exit(NotFound.exit_code)


def _messages(path: Path, max_size: int) -> Iterator[tuple[str | None, bytes | None, str | None]]:
    """(key, bytes, why not): one for a mail file; each message of an mbox or a folder, so
    that many mails never become one ticket."""
    from mailbot.ingest.sources import open_source, read_limited, starts_like_mbox

    if path.is_dir() or starts_like_mbox(path):
        for found in open_source(str(path), max_size).messages():
            why = f"{found.problem}: {found.detail}" if found.raw is None else None
            yield found.key, found.raw, why
        return
    raw, problem, detail = read_limited(path, max_size)
    yield None, raw, f"{problem}: {detail}" if raw is None else None
