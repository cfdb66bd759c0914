"""`ingest`: take mail files in as if they had arrived now, one JSON line per file."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mailbot.cli import _context as c
from mailbot.errors import NotFound


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--desk", help="Route every file to this desk instead of by its recipients.")
@click.option(
    "--dry-run", is_flag=True, help="Run every rule and print the outcome; write and send nothing."
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
    ctx: click.Context, files: Sequence[Path], desk: str | None, dry_run: bool, wait: float
) -> None:
    """Take .eml files in, as if they had arrived now, and process them.

    Prints one JSON line per file: file, spool_id, desk, outcome (ticket, quarantined or
    dropped), ticket, reason, detail, missing, product, type, category, impact, urgency,
    priority, sla_level. Arrival time is taken from the newest Received: header.
    Exits 0 when every file was accepted (whatever its outcome), 66 when some could not be read.
    """
    from mailbot.ingest.files import accept_file, read_file
    from mailbot.pipeline import Worker, dry_run_bytes, process_now

    app = c.app(ctx)
    if desk and desk not in app.config.desks:
        raise NotFound(
            f"--desk {desk}: no such desk (known: {', '.join(sorted(app.config.desks))})"
        )
    worker = Worker(app.pipeline)
    failed = False
    max_size = app.config.settings.smtp.max_message_size
    # the bar goes to stderr (and only to a terminal), so stdout stays pure JSON lines
    bar = click.progressbar(files, label="ingesting", file=sys.stderr, show_pos=True)
    with bar, contextlib.closing(worker):
        for path in bar:
            line: dict[str, Any]
            if dry_run:
                raw, error = read_file(path, max_size)
                if raw is None:
                    failed = True
                    line = {"spool_id": None, "outcome": "refused", "reason": error}
                else:
                    line = dry_run_bytes(app.pipeline, raw, desk)
            else:
                accepted = accept_file(app.spool, path, max_size)
                if accepted.spool_id is None:
                    failed = True
                    line = {"spool_id": None, "outcome": "refused", "reason": accepted.error}
                else:
                    line = process_now(worker, accepted.spool_id, desk, wait)
            click.echo(json.dumps({"file": str(path), **line}, ensure_ascii=False))
    if failed:
        sys.exit(NotFound.exit_code)
