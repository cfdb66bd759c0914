"""sender: outbox rows -> the world (an SMTP relay, or a maildir); touches the network and store.

Delivery is at least once, and a journal makes repeats rare: the moment the relay says 250,
the row's Message-ID is appended to a journal file (one write, no fsync: it survives kill -9,
being in the kernel's page cache), then the row is marked sent. After a crash, rows named in
the journal are marked sent instead of being sent again. Only a power cut in that instant
repeats a mail, and then it is the very same mail: each row's Message-ID was fixed when it was
written. The maildir transport names files after the Message-ID, so a repeat adds nothing.
Temporary failures back off exponentially (persisted, so they survive a restart); a
permanent refusal marks the row failed with the server's own words.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from mailbot.clock import Clock, system_clock
from mailbot.config import OutboundSettings, RelaySettings
from mailbot.durable import make_private_dirs, write_durably
from mailbot.store import Database, Events, Outbox, OutboxRow, OutboxState

log = logging.getLogger("mailbot.sender")


class TemporaryFailure(Exception):
    pass


class PermanentFailure(Exception):
    pass


class Transport(Protocol):
    def deliver(self, row: OutboxRow) -> None: ...

    def close(self) -> None: ...


class MaildirTransport:
    """Writes each mail to <maildir>/new under a name derived from its Message-ID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("tmp", "new", "cur"):
            make_private_dirs(folder / sub)

    def name_for(self, message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".mailbot:2,"

    def deliver(self, row: OutboxRow) -> None:
        name = self.name_for(row.message_id)
        final = self.folder / "new" / name
        if final.exists() or (self.folder / "cur" / name).exists():
            return
        tmp = self.folder / "tmp" / name
        try:
            write_durably(final, row.raw, tmp)
        except OSError as exc:
            raise TemporaryFailure(f"maildir {self.folder}: {exc}") from exc

    def close(self) -> None:
        pass


class SmtpTransport:
    """One SMTP connection kept open across rows; reopened after any error."""

    def __init__(self, relay: RelaySettings, local_hostname: str | None = None) -> None:
        self.relay = relay
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        relay = self.relay
        conn: smtplib.SMTP
        context = ssl.create_default_context(cafile=str(relay.ca_file) if relay.ca_file else None)
        if relay.tls == "ssl":
            conn = smtplib.SMTP_SSL(
                relay.host,
                relay.port,
                local_hostname=self.local_hostname,
                timeout=relay.timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                relay.host, relay.port, local_hostname=self.local_hostname, timeout=relay.timeout
            )
        try:
            if relay.tls == "starttls":
                conn.starttls(context=context)
            if relay.username:
                conn.login(relay.username, relay.password or "")
        except BaseException:
            conn.close()  # not yet ours to close later: a refused login must not leak the socket
            raise
        return conn

    def deliver(self, row: OutboxRow) -> None:
        try:
            if self._conn is None:
                self._conn = self._connect()
            refused = self._conn.sendmail(row.mail_from, row.rcpt_to, row.raw)
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset_after_refusal()
            self._raise_for(exc.recipients)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._reset_after_refusal()
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            answer = f"{exc.smtp_code} {text}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentFailure(answer) from exc
            raise TemporaryFailure(answer) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise TemporaryFailure(f"relay refused our credentials: {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryFailure(f"relay {self.relay.host}:{self.relay.port}: {exc}") from exc
        if refused:
            self._raise_for(refused)

    @staticmethod
    def _raise_for(refused: dict[str, tuple[int, bytes]]) -> None:
        answers = "; ".join(
            f"{r}: {c} {m.decode(errors='replace')}" for r, (c, m) in refused.items()
        )
        if all(500 <= code < 600 for code, _ in refused.values()):
            raise PermanentFailure(answers)
        raise TemporaryFailure(answers)

    def _reset_after_refusal(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._conn = None


def make_transport(outbound: OutboundSettings, maildir: Path, hostname: str | None) -> Transport:
    if outbound.relay is not None:
        return SmtpTransport(outbound.relay, hostname)
    return MaildirTransport(maildir)


class SentJournal:
    """Message-IDs the relay accepted, kept until their rows are known to be marked sent."""

    MAX_BYTES = 1 << 20

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)

    def entries(self) -> list[str]:
        return [line for line in self.path.read_text(errors="replace").splitlines() if line]

    def record(self, message_id: str) -> None:
        os.write(self._fd, message_id.encode() + b"\n")

    def trim(self, force: bool = False) -> None:
        """Empty the journal; only when every entry's row is committed (we are the only writer)."""
        if force or os.fstat(self._fd).st_size > self.MAX_BYTES:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        os.close(self._fd)


@dataclass(frozen=True)
class _Result:
    row: OutboxRow
    state: OutboxState
    error: str | None = None
    retry_at: datetime | None = None


class Sender:
    def __init__(
        self,
        db: Database,
        outbound: OutboundSettings,
        transport: Transport,
        journal: Path | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.outbound = outbound
        self.transport = transport
        self.journal = SentJournal(journal) if journal is not None else None
        if self.journal is not None:
            self._reconcile(self.journal)

    def _reconcile(self, journal: SentJournal) -> None:
        """Rows the relay accepted just before a crash: mark them sent, do not send them again."""
        accepted = journal.entries()
        if accepted:
            with self.db.reading() as session:
                rows = Outbox(session).pending_with_ids(list(accepted))
            if rows:
                self._record([_Result(row, OutboxState.sent) for row in rows])
                log.warning(
                    "replies accepted by the relay before a crash marked sent",
                    extra={"count": len(rows)},
                )
        journal.trim(force=True)

    def _backoff(self, attempts: int) -> timedelta:
        base = self.outbound.retry_base_seconds * (2 ** min(attempts - 1, 20))
        seconds = min(base, self.outbound.retry_max_seconds)
        return timedelta(seconds=seconds * random.uniform(0.9, 1.1))

    def due(self, limit: int, now: datetime) -> list[OutboxRow]:
        with self.db.reading() as session:
            return Outbox(session).due(now, limit)

    def send_due(self, limit: int = 50) -> int:
        """Try every row that is due, then record all their results in one transaction.

        Recording in one go is safe because each relay acceptance is first noted in the
        journal: a crash before the commit marks those rows sent at the next start.
        """
        rows = self.due(limit, self.clock())
        results = [self._attempt(row) for row in rows]
        if results:
            self._record(results)
            if self.journal is not None:
                self.journal.trim()
        return len(rows)

    def _attempt(self, row: OutboxRow) -> _Result:
        try:
            self.transport.deliver(row)
        except PermanentFailure as exc:
            log.warning(
                "reply refused for good",
                extra={
                    "outbox_id": row.id,
                    "ticket_id": row.ticket_id,
                    "message_id": row.message_id,
                    "error": str(exc),
                },
            )
            return _Result(row, OutboxState.failed, str(exc), None)
        except TemporaryFailure as exc:
            attempts = row.attempts + 1
            if attempts >= self.outbound.max_attempts:
                log.error(
                    "reply failed after retries",
                    extra={"outbox_id": row.id, "ticket_id": row.ticket_id, "error": str(exc)},
                )
                return _Result(row, OutboxState.failed, f"gave up after {attempts} tries: {exc}")
            log.info(
                "reply deferred",
                extra={
                    "outbox_id": row.id,
                    "ticket_id": row.ticket_id,
                    "attempt": attempts,
                    "error": str(exc),
                },
            )
            retry_at = self.clock() + self._backoff(attempts)
            return _Result(row, OutboxState.pending, str(exc), retry_at)
        if self.journal is not None:
            self.journal.record(row.message_id)
        log.debug(
            "reply sent",
            extra={"outbox_id": row.id, "ticket_id": row.ticket_id, "message_id": row.message_id},
        )
        return _Result(row, OutboxState.sent)

    def _record(self, results: list[_Result]) -> None:
        now = self.clock()
        with self.db.transaction() as session:
            outbox, events = Outbox(session), Events(session)
            for result in results:
                row = result.row
                values: dict[str, object] = {"state": result.state, "last_error": result.error}
                if result.state == OutboxState.sent:
                    values["sent_at"] = now
                if result.retry_at is not None:
                    values["next_attempt_at"] = result.retry_at
                outbox.settle(row.id, **values)
                if result.state != OutboxState.pending:
                    events.record(
                        f"reply_{result.state}",
                        now,
                        ticket_id=row.ticket_id,
                        spool_id=row.spool_id,
                        outbox_id=row.id,
                        message_id=row.message_id,
                        error=result.error,
                    )

    def close(self) -> None:
        self.transport.close()
        if self.journal is not None:
            self.journal.close()
