"""spool: durable raw messages and their states; touches the spool folder and the database.

`accept` is the moment mailbot takes responsibility for a message: the bytes are written to a
temporary file, fsynced, renamed to their SHA-256 name and the folder fsynced, then a row in
state `received` is committed. Only then may a transport say "accepted" (SMTP 250, IMAP move,
ingest exit 0). A file whose row never got committed (a crash in between) is adopted at
start-up, so even that window loses nothing. The SMTP receiver does not hold a message in
memory at all: it streams DATA into an `Incoming` temporary file (hashed as it is written),
and `accept_incoming` makes that file durable and recorded with the same promise.

Workers claim `received` rows with a lease. The one transaction that records an item's
outcome also moves it out of `received`, guarded by its current state, so an item can never
be finished twice even if two workers raced for it. A worker notes the item it is working
on in a small marker file: after a hard crash (kill -9, a segfault in a C library) that item
is charged one attempt, and an item that keeps killing workers is quarantined instead of
taking the service down in a loop.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mailbot.clock import Clock, system_clock
from mailbot.durable import (
    PRIVATE_FILE,
    fsync_dir,
    make_private_dirs,
    move_into_place,
    write_durably,
)
from mailbot.errors import NotFound, SpoolError
from mailbot.store import (
    Database,
    MailboxStates,
    SpoolItem,
    SpoolItems,
    SpoolState,
    record_received,
)

HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _PendingRow:
    values: dict[str, object]
    done: bool = False
    error: Exception | None = None


@dataclass(frozen=True)
class Claimed:
    """What a worker needs of a claimed item, detached from any session."""

    id: str
    source: str
    mail_from: str | None
    rcpt_to: tuple[str, ...]
    accepted_at: datetime
    attempts: int
    skip_rules: tuple[str, ...] = ()


class Spool:
    def __init__(self, folder: Path, db: Database, clock: Clock = system_clock) -> None:
        self.folder = folder
        self.db = db
        self.clock = clock
        self._tmp = folder / "tmp"
        self._work = folder / "work"
        for path in (folder, self._tmp, self._work):
            make_private_dirs(path)
        self._made_dirs: set[str] = set()
        self._queue: list[_PendingRow] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    # -- accepting -------------------------------------------------------------------------

    def path_of(self, spool_id: str) -> Path:
        return self.folder / spool_id[:2] / f"{spool_id}.eml"

    def accept(
        self,
        raw: bytes,
        source: str,
        *,
        mail_from: str | None = None,
        rcpt_to: Sequence[str] = (),
        accepted_at: datetime | None = None,
    ) -> str:
        """Make `raw` durable and recorded; return its spool id. SpoolError, never half-done."""
        spool_id = hashlib.sha256(raw).hexdigest()
        try:
            self._write_file(spool_id, raw)
            self._insert_row(
                self._row(
                    spool_id, len(raw), source, mail_from, rcpt_to, accepted_at or self.clock()
                )
            )
        except OSError as exc:
            raise SpoolError(f"spool {self.folder}: cannot store message: {exc}") from exc
        except Exception as exc:  # the database refused: the sender must retry (451), not lose it
            raise SpoolError(f"spool: cannot record message {spool_id[:12]}: {exc}") from exc
        return spool_id

    def accept_many(self, raws: Sequence[bytes], source: str) -> list[str]:
        """`accept` for a batch (a mailbox being reprocessed): the same promise, paid once.

        Every file is written and fsynced, each folder touched is fsynced once after the
        last rename, and only then are all rows committed in one transaction; so, as with
        `accept`, no row exists whose bytes could still be lost. Returns the spool ids in
        the order of `raws` (the same bytes twice give the same id, stored once).
        """
        ids = [hashlib.sha256(raw).hexdigest() for raw in raws]
        now = self.clock()
        rows: dict[str, dict[str, object]] = {}
        folders: set[Path] = set()
        try:
            for spool_id, raw in zip(ids, raws, strict=True):
                if spool_id in rows:
                    continue
                if self._write_file(spool_id, raw, sync_folder=False):
                    folders.add(self.path_of(spool_id).parent)
                rows[spool_id] = self._row(spool_id, len(raw), source, None, (), now)
            for folder in sorted(folders):
                fsync_dir(folder)
        except OSError as exc:
            raise SpoolError(f"spool {self.folder}: cannot store messages: {exc}") from exc
        try:
            with self._commit_lock:
                self._commit_rows(list(rows.values()))
        except Exception as exc:
            raise SpoolError(f"spool: cannot record {len(rows)} messages: {exc}") from exc
        return ids

    def incoming(self) -> Incoming:
        """A temporary file in the spool for a message arriving piece by piece (SMTP DATA)."""
        name = f"incoming-{secrets.token_hex(8)}.{os.getpid()}.{threading.get_ident()}"
        return Incoming(self._tmp / name)

    def accept_incoming(
        self,
        incoming: Incoming,
        source: str,
        *,
        mail_from: str | None = None,
        rcpt_to: Sequence[str] = (),
        wait: float | None = None,
    ) -> str:
        """`accept` for a message already written to `incoming`: fsync it, rename it to its
        SHA-256 name, record it. The temporary is gone afterwards whatever happened (no litter
        until the next restart). `wait` bounds the wait for the database's writer lock: a
        sender can be told 451 and retry, a receiver frozen behind a stuck lock helps nobody.
        SpoolError, never half-done."""
        spool_id = incoming.sha256
        try:
            try:
                incoming.finish()
                self._settle(spool_id, incoming.path, incoming.size)
            finally:
                incoming.discard()
            row = self._row(spool_id, incoming.size, source, mail_from, rcpt_to, self.clock())
            self._insert_row(row, wait=wait)
        except OSError as exc:
            raise SpoolError(f"spool {self.folder}: cannot store message: {exc}") from exc
        except Exception as exc:  # the database refused: the sender must retry (451), not lose it
            raise SpoolError(f"spool: cannot record message {spool_id[:12]}: {exc}") from exc
        return spool_id

    def known(self, spool_ids: Sequence[str]) -> dict[str, SpoolItem]:
        """The rows these ids already have (taken before), in one query."""
        with self.db.reading() as session:
            return {row.id: row for row in SpoolItems(session).by_ids(spool_ids)}

    def _write_file(self, spool_id: str, raw: bytes, *, sync_folder: bool = True) -> bool:
        """Store the bytes under their name; False when an identical file was already there."""
        final = self.path_of(spool_id)
        if final.exists() and final.stat().st_size == len(raw):
            return False
        self._make_bucket(final.parent)
        tmp = self._tmp / f"{spool_id}.{os.getpid()}.{threading.get_ident()}"
        write_durably(final, raw, tmp, sync_folder=sync_folder)
        return True

    def _settle(self, spool_id: str, tmp: Path, size: int) -> None:
        """Give a complete, fsynced temporary its final name (unless the same bytes have it)."""
        final = self.path_of(spool_id)
        if final.is_file() and final.stat().st_size == size:
            return  # the same mail again: the caller removes the temporary
        self._make_bucket(final.parent)
        move_into_place(tmp, final)

    def _make_bucket(self, bucket: Path) -> None:
        if bucket.name not in self._made_dirs:
            if not bucket.exists():
                bucket.mkdir(mode=0o700, exist_ok=True)
                fsync_dir(self.folder)
            self._made_dirs.add(bucket.name)

    def _insert_row(self, row: dict[str, object], *, wait: float | None = None) -> None:
        """Group commit: rows that arrive while a commit runs go together in the next one.

        Each caller returns only once a commit that includes its row has succeeded (or
        raises what that commit raised), so the promise of `accept` is unchanged; under
        concurrent SMTP sessions one commit serves many messages instead of each waiting
        for its own turn at the single SQLite writer.

        With `wait`, a caller gives up (TimeoutError) once that many seconds passed without
        its turn, taking its row out of the queue; a row already in a batch being committed
        shares that batch's fate, which its committer's own `wait` bounds.
        """
        pending = _PendingRow(row)
        deadline = None if wait is None else time.monotonic() + wait
        with self._queue_lock:
            self._queue.append(pending)
        if not self._commit_lock.acquire(timeout=-1 if wait is None else wait):
            with self._queue_lock:
                if any(p is pending for p in self._queue):
                    self._queue = [p for p in self._queue if p is not pending]
                    raise TimeoutError(f"no turn to record a message within {wait:g} s")
            self._commit_lock.acquire()  # our row is in the batch being committed: wait for it
        try:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                error: Exception | None = None
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    self._commit_rows([p.values for p in batch], wait=left)
                except Exception as exc:
                    error = exc
                for item in batch:
                    item.error, item.done = error, True
        finally:
            self._commit_lock.release()
        if pending.error is not None:
            raise pending.error

    @staticmethod
    def _row(
        spool_id: str,
        size: int,
        source: str,
        mail_from: str | None,
        rcpt_to: Sequence[str],
        accepted_at: datetime,
    ) -> dict[str, object]:
        return {
            "id": spool_id,
            "source": source,
            "mail_from": mail_from,
            "rcpt_to": list(rcpt_to),
            "size": size,
            "accepted_at": accepted_at,
            "state": SpoolState.received,
            "attempts": 0,
        }

    def _commit_rows(self, rows: list[dict[str, object]], *, wait: float | None = None) -> None:
        record_received(self.db, rows, wait=wait)

    def read(self, spool_id: str) -> bytes:
        try:
            return self.path_of(spool_id).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(
                f"spool item {spool_id}: raw file {self.path_of(spool_id)} is missing"
            ) from exc

    # -- recovery --------------------------------------------------------------------------

    def adopt_orphans(self) -> int:
        """Record spool files whose row was never committed (a crash between fsync and commit)."""
        with self.db.reading() as session:
            known = SpoolItems(session).known_ids()
        adopted = 0
        for path in self.folder.glob("??/*.eml"):
            spool_id = path.stem
            if spool_id in known:
                continue
            raw = path.read_bytes()
            if hashlib.sha256(raw).hexdigest() != spool_id:
                continue  # a torn file cannot exist after rename; leave anything odd for a human
            self._insert_row(self._row(spool_id, len(raw), "recovered", None, (), self.clock()))
            adopted += 1
        for tmp in self._tmp.iterdir():
            # temporaries belong to writes that never returned: nobody was told "accepted"
            pid = tmp.name.split(".")[1] if tmp.name.count(".") >= 2 else ""
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)
        return adopted

    def release_dead_claims(self) -> int:
        """Free the leases of workers on this host that died, charging their current item."""
        released = 0
        for busy in self._markers():
            if busy.host != HOST or _pid_alive(busy.pid):
                continue  # alive, or another host's worker: only that host can tell
            released += self.release_worker(busy.owner, "worker died while processing")
        return released

    def release_worker(self, owner: str, detail: str) -> int:
        """A worker that is gone (died, or stopped by serve): charge the item its marker names
        with `detail`, free every other claim it held, and remove the marker. Returns how
        many claims were freed (the rest of its batch goes on at once, with no attempt
        charged)."""
        marker = self._work / owner
        current = _read_marker(marker)[0]
        with self.db.transaction() as session:
            items = SpoolItems(session)
            if current:
                items.charge_attempt(current, detail[:4000], free_claim=False)
            released = items.free_claims_of(owner)
        marker.unlink(missing_ok=True)
        return released

    def busy_workers(self, pids: Collection[int]) -> list[Busy]:
        """The item each of these workers (on this host) is processing now, from their
        markers: serve times them against `worker.item_time_limit`."""
        return [
            busy
            for busy in self._markers()
            if busy.host == HOST and busy.pid in pids and busy.spool_id
        ]

    def _markers(self) -> list[Busy]:
        found = []
        for marker in self._work.iterdir():
            host, _, rest = marker.name.partition(":")
            pid = rest.partition(":")[0]
            if not pid.isdigit():
                continue
            spool_id, started = _read_marker(marker)
            found.append(Busy(marker.name, host, int(pid), spool_id, started))
        return found

    def check_writable(self) -> None:
        """Fail now, not at the first mail: serve must not listen while it cannot store."""
        for folder in (self.folder, self._tmp, self._work):
            probe = folder / f".probe.{os.getpid()}"
            try:
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise SpoolError(f"spool {folder}: cannot write there: {exc.strerror}") from exc

    # -- claiming --------------------------------------------------------------------------

    def claim(
        self,
        worker: str,
        limit: int = 32,
        lease: timedelta = timedelta(minutes=10),
        ids: Sequence[str] | None = None,
    ) -> list[Claimed]:
        """Lease up to `limit` received items (oldest first), or exactly the `ids` given."""
        now = self.clock()
        if ids is None and not self._anything_to_claim(now):
            return []  # idle polling must not take the write lock
        with self.db.transaction() as session:
            rows = SpoolItems(session).claim(
                worker,
                now=now,
                until=now + lease,
                limit=limit,
                ids=ids,
                skip_locked=self.db.is_postgres,
            )
            return [
                Claimed(
                    id=row.id,
                    source=row.source,
                    mail_from=row.mail_from,
                    rcpt_to=tuple(row.rcpt_to),
                    accepted_at=row.accepted_at,
                    attempts=row.attempts,
                    skip_rules=tuple(row.skip_rules or ()),
                )
                for row in rows
            ]

    def _anything_to_claim(self, now: datetime) -> bool:
        with self.db.reading() as session:
            return SpoolItems(session).anything_to_claim(now)

    def note_failure(self, spool_id: str, error: str, *, worker: str | None = None) -> None:
        """An attempt raised: charge it and free the lease so the item is tried again.

        With `worker`, every other claim of that worker is freed in the same transaction:
        a worker that could not note a failure at once (the database refused) has given up
        its batch, and none of it may wait out the lease."""
        with self.db.transaction() as session:
            items = SpoolItems(session)
            items.charge_attempt(spool_id, error[:4000], free_claim=True)
            if worker is not None:
                items.free_claims_of(worker)

    def release(self, spool_id: str, *, by: str, skip_rule: str | None) -> None:
        """Put a quarantined item back in `received`, with who did it in the history.

        `skip_rule` is the admin overriding a policy for this one mail (release --force).
        """
        with self.db.transaction() as session:
            items = SpoolItems(session)
            item = items.get(spool_id)
            if item is None or item.state != SpoolState.quarantined:
                raise NotFound(f"spool item {spool_id}: not in quarantine")
            items.release(item, by=by, skip_rule=skip_rule, at=self.clock())

    def get(self, spool_id: str) -> SpoolItem:
        with self.db.reading() as session:
            item = SpoolItems(session).get(spool_id)
            if item is None:
                raise NotFound(f"spool item {spool_id} not found")
            return item

    def unfinished(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` still waiting for their outcome: a transport that may only confirm
        processed mail (the IMAP poller marks a message only then) asks this."""
        if not ids:
            return set()
        with self.db.reading() as session:
            return SpoolItems(session).still_received(ids)

    # -- where a mailbox transport stands ------------------------------------------------

    def mailbox_position(self, name: str) -> tuple[int, int] | None:
        """(uidvalidity, last settled UID) of an IMAP mailbox, None before its first pass."""
        with self.db.reading() as session:
            return MailboxStates(session).get(name)

    def save_mailbox_position(self, name: str, *, uidvalidity: int, last_uid: int) -> None:
        with self.db.transaction() as session:
            MailboxStates(session).save(
                name, uidvalidity=uidvalidity, last_uid=last_uid, at=self.clock()
            )

    def note_mailbox_polled(self, name: str, *, uidvalidity: int) -> None:
        """A pass over the mailbox went through: `mailbot status` and /metrics show when."""
        with self.db.transaction() as session:
            MailboxStates(session).polled(name, uidvalidity=uidvalidity, at=self.clock())


class Incoming:
    """A message being received: a temporary file in the spool, hashed as it is written, so
    that a 25 MB mail costs the receiver a buffer, not 25 MB (let alone a Python object per
    line). Created 0600 like every spool file: mail bodies are personal data."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._hash = hashlib.sha256()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        """Append `data`; OSError if the disk refuses (the caller discards the message)."""
        if self._fd is None:
            raise OSError(f"{self.path}: already finished")
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(self._fd, view) :]
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        """Flush to disk and close: the bytes survive a power cut once this returns."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Close and remove the temporary (after a rename it is already gone). Idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        self.path.unlink(missing_ok=True)


def _read_marker(path: Path) -> tuple[str, int]:
    """(spool id, when it was written in ns) from a marker; ("", 0) for an idle or vanished
    one. The write time tells the same item taken up again from one still going on."""
    try:
        with path.open("rb") as marker:
            text = marker.read(256).decode(errors="replace").strip()
            return text, os.fstat(marker.fileno()).st_mtime_ns
    except FileNotFoundError:  # its worker closed it just now
        return "", 0


@dataclass(frozen=True)
class Busy:
    """A worker's marker as read from the work folder."""

    owner: str
    host: str
    pid: int
    spool_id: str
    started: int
    """When the marker was written (ns): with `spool_id`, which attempt this is."""


class WorkMarker:
    """The file naming the item a worker is on, read back after that worker dies and by
    serve, which times each item against `worker.item_time_limit`."""

    def __init__(self, spool: Spool, worker: str) -> None:
        self.path = spool._work / worker
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)

    def set(self, spool_id: str) -> None:
        data = spool_id.encode()
        os.pwrite(self._fd, data.ljust(64), 0)

    def clear(self) -> None:
        os.pwrite(self._fd, b" " * 64, 0)

    def close(self, *, owed: str | None = None) -> None:
        """`owed`: an item whose failed attempt could not be recorded; the file stays, naming
        it, for `release_dead_claims` to charge once this worker is gone."""
        if owed is not None:
            self.set(owed)
        os.close(self._fd)
        if owed is None:
            self.path.unlink(missing_ok=True)


def worker_name() -> str:
    return f"{HOST}:{os.getpid()}:{threading.get_ident()}"
