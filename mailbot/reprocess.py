"""reprocess: every message a mailbox holds, through the spool and the pipeline, in batches.

The same path as any other mail (spool, rules, one transaction per outcome), only faster
and accounted for:

- A reader thread walks the sources, hashes each message and takes in the ones the spool
  does not know yet with `Spool.accept_many` (one fsync per file, one per folder, one
  commit per batch); the main thread meanwhile runs the previous batch through
  `Worker.run_items`. Batches are bounded in count and bytes, so memory does not grow with
  the mailbox.
- A message whose bytes the spool already finished (an earlier run, `ingest`, SMTP) is
  `already_taken`: it is not processed again and nothing is sent, which is what makes a
  second run harmless.
- Every message the source holds gets exactly one status; the tally compares what each
  source held with the statuses given, so a message cannot vanish without the summary
  saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailbot.ingest.sources import Found, Source
from mailbot.pipeline import Pipeline, Worker, process_now, recorded_outcome
from mailbot.spool import Claimed
from mailbot.store import SpoolItem, SpoolState

STATUSES = (
    "new",
    "follow_up",
    "already_taken",
    "duplicate",
    "quarantined",
    "dropped",
    "pending",
    "outside_window",
    "oversized",
    "unreadable",
)
"""Each message ends in one of these; `held` is their sum, by construction and by check."""

TAKEN = ("new", "follow_up", "already_taken", "duplicate", "quarantined", "dropped")
NOT_TAKEN = ("oversized", "unreadable")

NO_REPLIES = "reprocess --no-replies: replies suppressed"

BATCH = 200
BATCH_BYTES = 16 << 20


@dataclass(frozen=True)
class Options:
    desk: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    dry_run: bool = False
    no_replies: bool = False
    wait: float = 30.0
    """Seconds to wait for an item another process (a running `serve`) is working on."""
    batch: int = BATCH


@dataclass
class Tally:
    """Running counts, per status and per source (held = what the source yielded)."""

    counts: Counter[str] = field(default_factory=Counter)
    held: Counter[str] = field(default_factory=Counter)
    listed: dict[str, int | None] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.held.values())

    def gaps(self) -> list[str]:
        """What does not add up: statuses vs messages held, listings vs messages read."""
        problems = []
        given = sum(self.counts[s] for s in STATUSES)
        if given != self.total:
            problems.append(f"{self.total} messages held but {given} accounted for")
        for label, listed in self.listed.items():
            if listed is not None and listed != self.held[label]:
                problems.append(f"{label}: {listed} listed but {self.held[label]} read")
        return problems


def status_of(outcome: str, reason: str | None, follow_up: bool) -> str:
    if outcome == "ticket":
        return "follow_up" if follow_up else "new"
    if outcome == "quarantined":
        return "duplicate" if reason == "duplicate" else "quarantined"
    if outcome in {"dropped", "pending"}:
        return outcome
    return "pending"


@dataclass
class _Entry:
    label: str
    found: Found
    status: str | None = None
    """Decided by the reader (outside_window, oversized, unreadable) or None: to process."""
    spool_id: str | None = None
    known: SpoolItem | None = None


def reprocess(
    pipeline: Pipeline,
    sources: Sequence[Source],
    options: Options,
    report: Callable[[dict[str, Any], Tally], None],
) -> Tally:
    """Take every message of `sources` in (or, with dry_run, only judge it); `report` gets
    one line per message, in source order, with the tally so far."""
    tally = Tally()
    batches: queue.Queue[list[_Entry] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read,
        args=(pipeline, sources, options, batches, stop, tally),
        name="reprocess-reader",
        daemon=True,
    )
    reader.start()
    worker = Worker(pipeline)
    try:
        while True:
            batch = batches.get()
            if batch is None:
                break
            if isinstance(batch, BaseException):
                raise batch
            for line in _process(pipeline, worker, batch, options):
                tally.counts[line["status"]] += 1
                report(line, tally)
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to put its next batch
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.1)
        worker.close()
    return tally


def _read(
    pipeline: Pipeline,
    sources: Sequence[Source],
    options: Options,
    batches: queue.Queue[list[_Entry] | BaseException | None],
    stop: threading.Event,
    tally: Tally,
) -> None:
    try:
        for batch in _batches(sources, options, tally):
            if stop.is_set():
                return
            _take_in(pipeline, batch, options)
            batches.put(batch)
        batches.put(None)
    except BaseException as exc:  # the main thread reports it; a reader must not die silently
        batches.put(exc)


def _batches(sources: Sequence[Source], options: Options, tally: Tally) -> Iterator[list[_Entry]]:
    batch: list[_Entry] = []
    size = 0
    for source in sources:
        tally.listed[source.label] = source.size_hint()
        for found in source.messages():
            tally.held[source.label] += 1
            entry = _Entry(source.label, found, _verdict_before_taking(found, options))
            batch.append(entry)
            size += len(found.raw or b"")
            if len(batch) >= options.batch or size >= BATCH_BYTES:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


def _verdict_before_taking(found: Found, options: Options) -> str | None:
    if found.raw is None:
        return found.problem or "unreadable"
    if options.since is not None or options.until is not None:
        when = found.received_at()
        if when is None:
            return None  # no date anywhere: a filter cannot exclude what it cannot place
        if options.since is not None and when < options.since:
            return "outside_window"
        if options.until is not None and when >= options.until:
            return "outside_window"
    return None


def _take_in(pipeline: Pipeline, batch: list[_Entry], options: Options) -> None:
    """Hash, look the batch up, and (unless a dry run) make the unknown bytes durable."""
    todo = [e for e in batch if e.status is None and e.found.raw is not None]
    for entry in todo:
        assert entry.found.raw is not None
        entry.spool_id = hashlib.sha256(entry.found.raw).hexdigest()
    known = pipeline.spool.known([e.spool_id for e in todo if e.spool_id])
    for entry in todo:
        entry.known = known.get(entry.spool_id or "")
    if options.dry_run:
        return
    fresh: dict[str, bytes] = {}
    for entry in todo:
        if entry.known is None and entry.spool_id not in fresh:
            assert entry.spool_id is not None and entry.found.raw is not None
            fresh[entry.spool_id] = entry.found.raw
    if fresh:
        pipeline.spool.accept_many(list(fresh.values()), "reprocess")


def _process(
    pipeline: Pipeline, worker: Worker, batch: list[_Entry], options: Options
) -> Iterator[dict[str, Any]]:
    suppressed = NO_REPLIES if options.no_replies else None
    finished_before = {
        e.spool_id for e in batch if e.known is not None and e.known.state != SpoolState.received
    }
    to_run = list(
        dict.fromkeys(e.spool_id for e in batch if e.spool_id and e.spool_id not in finished_before)
    )
    outcomes: dict[str, dict[str, Any]] = {}
    if options.dry_run:
        for entry in batch:
            if entry.spool_id in to_run and entry.spool_id not in outcomes:
                assert entry.found.raw is not None and entry.spool_id is not None
                item = Claimed(entry.spool_id, "reprocess", None, (), pipeline.clock(), 0)
                result = pipeline.dry_run(item, entry.found.raw, options.desk)
                outcomes[entry.spool_id] = _line(result.as_json(), result.follow_up) | {
                    "dry_run": True
                }
    elif to_run:
        claimed = pipeline.spool.claim(worker.name, len(to_run), ids=to_run)
        for result in worker.run_items(claimed, options.desk, suppressed):
            if result.outcome != "already_done":
                outcomes[result.spool_id] = _line(result.as_json(), result.follow_up)
        for spool_id in to_run:
            if spool_id not in outcomes:  # held by another worker, failed once, or raced
                done = process_now(worker, spool_id, options.desk, options.wait, suppressed)
                outcomes[spool_id] = _line(done, False)
    given: set[str] = set()
    for entry in batch:
        status: str
        if entry.status is not None:
            line: dict[str, Any] = {
                "spool_id": None,
                "outcome": "refused" if entry.status in NOT_TAKEN else "skipped",
                "reason": entry.status,
                "detail": entry.found.detail,
            }
            status = entry.status
        elif entry.known is not None and entry.spool_id in finished_before:
            line = recorded_outcome(pipeline.db, entry.known)
            status = "already_taken"
        else:
            assert entry.spool_id is not None
            line = dict(outcomes[entry.spool_id])
            status = str(line.pop("status"))
            if entry.spool_id in given:  # the same bytes twice in this run: taken once
                status = "already_taken"
            given.add(entry.spool_id)
        arrived = entry.found.arrived_at
        yield {
            "source": entry.label,
            "key": entry.found.key,
            "arrived_at": arrived.isoformat() if arrived else None,
            "status": status,
            **line,
        }


def _line(line: dict[str, Any], follow_up: bool) -> dict[str, Any]:
    return {**line, "status": status_of(line["outcome"], line.get("reason"), follow_up)}
