"""`reprocess`: run a whole mailbox (maildir, mbox, folder of mail files) through the desks
again, safely: what was taken before is reported, never processed twice."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from mailbot.cli import _context as c

LABELS = {
    "new": "new tickets",
    "follow_up": "follow-ups",
    "already_taken": "already taken",
    "duplicate": "duplicates",
    "quarantined": "quarantined",
    "dropped": "dropped",
    "pending": "pending",
    "outside_window": "outside --since/--until",
    "oversized": "oversized",
    "unreadable": "unreadable",
}
SHORT = {"new": "new", "follow_up": "follow-up", "duplicate": "dup", "quarantined": "quar",
         "dropped": "drop", "already_taken": "taken"}  # fmt: skip

EXIT_UNREADABLE = 65
EXIT_GAP = 70
EXIT_PENDING = 75


class _Progress:
    """One self-overwriting line on a terminal's stderr, a few times a second."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.last = 0.0

    def show(
        self, counts: dict[str, int], total: int, hint: int | None, force: bool = False
    ) -> None:
        now = time.monotonic()
        if not self.live or (not force and now - self.last < 0.25):
            return
        self.last = now
        done = f"{total}/{hint}" if hint else str(total)
        parts = " ".join(f"{label} {counts.get(key, 0)}" for key, label in SHORT.items())
        self.stream.write(f"\rreprocessing {done}: {parts}\x1b[K")
        self.stream.flush()

    def end(self) -> None:
        if self.live:
            self.stream.write("\n")


def _password(path: Path | None) -> str:
    if path is not None:
        return path.read_text().strip()
    value = os.environ.get("MAILBOT_IMAP_PASSWORD")
    if not value:
        from mailbot.ingest.sources import SourceError

        raise SourceError("no password: set MAILBOT_IMAP_PASSWORD or give --password-file")
    return value


@click.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--desk", help="Route every message to this desk instead of by its recipients.")
@click.option("--since", metavar="ISO", help="Only messages received at or after this time.")
@click.option("--until", metavar="ISO", help="Only messages received before this time.")
@click.option(
    "--dry-run", is_flag=True, help="Say what every rule would decide; write and send nothing."
)
@click.option(
    "--no-replies",
    is_flag=True,
    help="Open and update tickets but queue no automatic reply (the history says so).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per message on stdout.")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The IMAP password (else $MAILBOT_IMAP_PASSWORD).",
)
@click.option(
    "--wait",
    default=30.0,
    show_default=True,
    help="Seconds to wait for a message another process (mailbot serve) is working on.",
)
@click.option("--batch-size", default=200, show_default=True, hidden=True)
@c.now_option
@click.pass_context
def reprocess(
    ctx: click.Context,
    sources: Sequence[str],
    desk: str | None,
    since: str | None,
    until: str | None,
    dry_run: bool,
    no_replies: bool,
    as_json: bool,
    password_file: Path | None,
    wait: float,
    batch_size: int,
) -> None:
    """Take every message of SOURCES in: maildirs, mbox files, folders of mail files, files,
    IMAP folders (imap://user@host:143/Folder or imaps://...:993/Folder; the password from
    $MAILBOT_IMAP_PASSWORD or --password-file; the folder is only read, nothing is flagged
    or moved).

    Safe to run again: a message whose bytes were taken before (by any earlier run, `ingest`
    or SMTP) is reported as already taken and neither processed nor answered again. Start
    with --dry-run; use --no-replies for mail the customers must not hear about again.
    --since/--until compare the time the source says a message arrived (a maildir file's
    mtime, an mbox `From ` line's date, an IMAP message's INTERNALDATE), else its
    Received:/Date: headers.

    The closing summary (stdout; stderr with --json) counts every message the sources hold:
    new + follow-ups + already taken + duplicates + quarantined + dropped + pending +
    outside the window + oversized + unreadable. Exit codes: 0 all taken; 65 some message
    could not be read or was too big (the others were taken); 66 a source does not exist;
    69 an IMAP server cannot be reached or refuses the login; 70 the counts do not add up;
    75 some message is still being processed by `serve`.
    """
    from mailbot.ingest import imap_folder  # noqa: F401  (registers imap:// and imaps://)
    from mailbot.ingest.sources import open_source
    from mailbot.reprocess import Options, Tally
    from mailbot.reprocess import reprocess as run

    if desk:
        c.known_desk(c.config(ctx), desk)
    app = c.app(ctx)
    max_size = app.config.settings.smtp.max_message_size
    opened = [open_source(spec, max_size, lambda: _password(password_file)) for spec in sources]
    options = Options(
        desk=desk,
        since=c.moment(since) if since else None,
        until=c.moment(until) if until else None,
        dry_run=dry_run,
        no_replies=no_replies,
        wait=wait,
        batch=batch_size,
    )
    progress = _Progress(sys.stderr)
    hints = [s.size_hint() for s in opened]
    hint = sum(h for h in hints if h is not None) if None not in hints else None

    def report(line: dict[str, Any], tally: Tally) -> None:
        if as_json:
            click.echo(json.dumps(line, ensure_ascii=False))
        elif line["status"] in {"oversized", "unreadable", "pending"}:
            click.echo(f"{line['source']} {line['key']}: {line['status']}: {line['detail']}")
        progress.show(tally.counts, tally.total, hint)

    tally = run(app.pipeline, opened, options, report)
    progress.show(tally.counts, tally.total, hint, force=True)
    progress.end()
    click.echo(_summary(tally, options), err=as_json)
    if tally.gaps():
        sys.exit(EXIT_GAP)
    if tally.counts["oversized"] or tally.counts["unreadable"]:
        sys.exit(EXIT_UNREADABLE)
    if tally.counts["pending"]:
        sys.exit(EXIT_PENDING)


def _summary(tally: Any, options: Any) -> str:
    from mailbot.reprocess import STATUSES

    sources = len(tally.held)
    lines = [
        f"{'dry run: ' if options.dry_run else ''}{sources} source{'s' if sources != 1 else ''} "
        f"held {tally.total} messages:"
    ]
    width = max(len(label) for label in LABELS.values())
    for status in STATUSES:
        lines.append(f"  {LABELS[status]:<{width}} {tally.counts[status]:>8}")
    given = sum(tally.counts[s] for s in STATUSES)
    lines.append(f"  {'= accounted for':<{width}} {given:>8}")
    if not tally.gaps():
        lines.append(f"every one of the {tally.total} messages held is accounted for")
    for label, held in tally.held.items():
        listed = tally.listed.get(label)
        extra = f" ({listed} listed)" if listed is not None else ""
        lines.append(f"  {label}: {held} messages{extra}")
    for gap in tally.gaps():
        lines.append(f"GAP: {gap}")
    if options.dry_run:
        lines.append("dry run: nothing was written or sent")
    elif options.no_replies:
        lines.append("--no-replies: tickets updated, no automatic reply queued")
    return "\n".join(lines)
