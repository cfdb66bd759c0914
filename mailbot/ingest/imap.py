"""ingest.imap: the IMAP poller (imapclient); touches the spool only.

A message is taken in rounds of `batch` UIDs: its bytes are fetched (BODY.PEEK[], so a fetch
alone never marks it read) and made durable with `Spool.accept`, the round is handed to
whoever processes it (`settle`), and only once a message's outcome is committed -- its spool
row has left `received` -- is it marked on the server (\\Seen plus the keyword $MailbotTaken)
or moved. A crash anywhere before the mark leaves the message unmarked, and the next pass
fetches the same bytes, which are the same spool item: taken again, never ticketed twice.

The position (UIDVALIDITY and the last UID up to which every message is settled) is kept in
the database through the spool. A message whose outcome is not committed yet holds the
position back, so it is looked at again; the keyword keeps the ones marked after it from
being fetched again. When the server renumbers the folder (a new UIDVALIDITY) the poller
starts again from UID 0 and the spool's content hash recognises what was taken before.

One message that cannot be fetched is tried on the next passes and then left on the server
with a log line; one larger than `smtp.max_message_size` is left there at once. Neither
holds up the folder. Network errors, timeouts and BYE end the connection; the poller
connects again with a growing pause. IDLE, where offered, wakes it as mail arrives.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from mailbot.config import Config, ImapMailbox
from mailbot.errors import ConfigError, MailboxUnavailable, NotFound, SpoolError
from mailbot.redact import masked
from mailbot.spool import Spool

log = logging.getLogger("mailbot.imap")

KEYWORD = "$MailbotTaken"
"""Our mark on a message whose outcome is committed: mail a person read is still taken."""
SEEN = b"\\Seen"
DELETED = b"\\Deleted"

IDLE_RENEW_SECONDS = 25 * 60.0
"""RFC 2177: a server may end an IDLE after 30 minutes; re-issue it well before."""
FETCH_BYTES = 16 * 1024 * 1024
"""Bodies fetched in one command at most: memory stays bounded whatever the mailbox holds."""
FETCH_TRIES = 2
"""Failed fetches (the second one of the message alone) before it is left on the server."""
BACKOFF_MAX_SECONDS = 60.0
CONNECT_TIMEOUT = 15.0
READ_TIMEOUT = 120.0
SETTLE_WAIT_SECONDS = 60.0
"""How long a round waits for workers to commit its outcomes; the rest is marked next pass."""

_CONNECTION_ERRORS = (IMAPClientAbortError, OSError)
"""BYE, EOF, timeouts, refused connections and TLS failures: connect again."""


def logged_in(box: ImapMailbox, password: str) -> IMAPClient:
    """A client logged in to `box`'s server (TLS verified unless the mailbox says not,
    STARTTLS when offered on imap://), nothing selected; closed again on any failure."""
    context = ssl.create_default_context()
    if not box.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client = IMAPClient(
        box.host,
        port=box.port,
        ssl=box.tls == "ssl",
        ssl_context=context,
        timeout=SocketTimeout(CONNECT_TIMEOUT, READ_TIMEOUT),
    )
    try:
        if box.tls == "starttls" and client.has_capability("STARTTLS"):
            client.starttls(context)
        client.normalise_times = False  # INTERNALDATE with its offset, not local naive
        client.login(box.username, password)
    except BaseException:
        _close(client)
        raise
    return client


@dataclass(frozen=True)
class Taken:
    """One message of a round: in the spool (`spool_id`), or left on the server (`reason`)."""

    mailbox: str
    uid: int
    spool_id: str | None
    reason: str | None = None


Settle = Callable[[Sequence[Taken]], None]
"""Called with each round once its messages are in the spool: processes them (`poll`) or
wakes the workers that will (`serve`)."""


@dataclass
class PassResult:
    """What one pass over the folder did."""

    taken: int = 0
    marked: int = 0
    skipped: int = 0
    waiting: int = 0
    """Spooled but not processed in time: marked on a later pass."""

    def add(self, other: PassResult) -> None:
        self.taken += other.taken
        self.marked += other.marked
        self.skipped += other.skipped
        self.waiting += other.waiting


@dataclass
class _Round:
    settled: set[int] = field(default_factory=set)
    result: PassResult = field(default_factory=PassResult)


def password_for(config: Config, mailbox: ImapMailbox, environ: Mapping[str, str]) -> str:
    """The mailbox's password from its file or environment variable; ConfigError names which."""
    where = f"{config.path}: imap {mailbox.name!r}"
    if mailbox.password_file is not None:
        path: Path = config.resolve(mailbox.password_file)
        try:
            secret = path.read_text().rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(
                f"{where}: password_file: cannot read {path}: {exc.strerror or exc}"
            ) from exc
        if not secret:
            raise ConfigError(f"{where}: password_file: {path} is empty")
        return secret
    secret = environ.get(mailbox.password_env, "")
    if not secret:
        raise ConfigError(
            f"{where}: password_env: ${mailbox.password_env} is not set"
            " (set it, or give password_file)"
        )
    return secret


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Poller:
    """One configured mailbox: passes over its folder, IDLE or sleep between them."""

    def __init__(
        self,
        mailbox: ImapMailbox,
        spool: Spool,
        *,
        password: str,
        max_size: int,
        settle: Settle,
        rcpt_to: Sequence[str] = (),
        settle_wait: float = SETTLE_WAIT_SECONDS,
    ) -> None:
        self.mailbox = mailbox
        self.spool = spool
        self._password = password
        self.max_size = max_size
        self.settle = settle
        self.rcpt_to = tuple(rcpt_to)
        self.settle_wait = settle_wait
        self.stop = threading.Event()
        self.idling = threading.Event()
        """Set while the connection sits in IDLE: new mail is seen the moment it arrives."""
        self._client: IMAPClient | None = None
        self._keywords = True
        self._failures: dict[int, int] = {}
        self.blamed = False
        """The last connection error came while fetching bodies: charged to those messages."""
        self._uidvalidity = 0
        self.context = {"mailbox": mailbox.name, "url": masked(mailbox.url)}

    # -- connection ----------------------------------------------------------------------

    def connect(self) -> IMAPClient:
        """Log in and select the folder (creating the move target); closes on any failure."""
        box = self.mailbox
        client = logged_in(box, self._password)
        try:
            if box.move_to and not client.folder_exists(box.move_to):
                client.create_folder(box.move_to)
            selected = client.select_folder(box.folder)
        except BaseException:
            _close(client)
            raise
        self._uidvalidity = int(selected[b"UIDVALIDITY"])
        flags = selected.get(b"PERMANENTFLAGS", (b"\\*",))
        self._keywords = b"\\*" in flags or KEYWORD.encode() in flags
        if not self._keywords:
            log.warning(
                "the server keeps no keywords here: marking with \\Seen only", extra=self.context
            )
        log.info(
            "connected",
            extra={
                **self.context,
                "uidvalidity": self._uidvalidity,
                "idle": self.mailbox.idle and client.has_capability("IDLE"),
                "move": client.has_capability("MOVE"),
            },
        )
        self._client = client
        return client

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)
            self._client = None

    # -- one pass --------------------------------------------------------------------------

    def run_pass(self) -> PassResult:
        """Take every message not taken yet, round by round; connects when needed."""
        client = self._client or self.connect()
        client.noop()  # a folder we sit in learns of new mail only when asked
        _news_arrived(client)  # what this pass will see anyway
        uidvalidity = self._uidvalidity
        last = self._start_uid(uidvalidity)
        criteria: list[Any] = ["UID", f"{last + 1}:*"]
        if self._keywords and self.mailbox.move_to is None:
            criteria += ["NOT", "KEYWORD", KEYWORD]
        uids = sorted(uid for uid in client.search(criteria) if uid > last)
        total = PassResult()
        settled_to, held = last, False
        for chunk in _chunks(uids, self.mailbox.batch):
            done = self._round(client, chunk)
            total.add(done.result)
            for uid in chunk:
                if held or uid not in done.settled:
                    held = True
                    break
                settled_to = uid
            if settled_to != last:
                self.spool.save_mailbox_position(
                    self.mailbox.name, uidvalidity=uidvalidity, last_uid=settled_to
                )
                last = settled_to
            if self.stop.is_set():
                break
        if total.taken or total.skipped:
            log.info(
                "pass done",
                extra={**self.context, **total.__dict__, "last_uid": settled_to},
            )
        self.spool.note_mailbox_polled(self.mailbox.name, uidvalidity=uidvalidity)
        return total

    def _start_uid(self, uidvalidity: int) -> int:
        position = self.spool.mailbox_position(self.mailbox.name)
        if position is None:
            return 0
        known, last_uid = position
        if known != uidvalidity:
            log.warning(
                "UIDVALIDITY changed: the server renumbered the folder; reading it again from"
                " the start (mail taken before is recognised by its content)",
                extra={**self.context, "was": known, "now": uidvalidity},
            )
            self._failures.clear()
            return 0
        return last_uid

    def _round(self, client: IMAPClient, uids: Sequence[int]) -> _Round:
        done = _Round()
        meta = client.fetch(list(uids), ["RFC822.SIZE", "INTERNALDATE"])
        wanted: list[int] = []
        taken: list[Taken] = []

        def leave(uid: int, reason: str) -> None:
            log.warning(
                "message left on the server", extra={**self.context, "uid": uid, "reason": reason}
            )
            taken.append(Taken(self.mailbox.name, uid, None, reason))
            done.settled.add(uid)
            done.result.skipped += 1

        for uid in uids:
            data = meta.get(uid)
            if data is None:  # expunged by someone else meanwhile: nothing to take
                done.settled.add(uid)
                continue
            size = int(data.get(b"RFC822.SIZE", 0))
            if size > self.max_size:
                leave(uid, f"oversized: {size} bytes, the limit is {self.max_size}")
            elif self._failures.get(uid, 0) >= FETCH_TRIES:
                leave(uid, f"cannot be fetched: the server failed on it {FETCH_TRIES} times")
            else:
                wanted.append(uid)
        spooled: dict[int, str] = {}
        for group in self._groups(wanted, meta):
            for uid, raw in self._bodies(client, group).items():
                if isinstance(raw, str):
                    self._failures[uid] = self._failures.get(uid, 0) + 1
                    if self._failures[uid] >= FETCH_TRIES:
                        leave(uid, raw)
                    continue
                arrived = meta[uid].get(b"INTERNALDATE")
                spooled[uid] = self.spool.accept(
                    raw,
                    "imap",
                    rcpt_to=self.rcpt_to,
                    accepted_at=_aware(arrived) or self.spool.clock(),
                )
                taken.append(Taken(self.mailbox.name, uid, spooled[uid]))
                self._failures.pop(uid, None)
        done.result.taken = len(spooled)
        if not taken:
            return done
        self.settle(taken)
        waiting = self._wait_finished(list(spooled.values()))
        finished = [uid for uid, spool_id in spooled.items() if spool_id not in waiting]
        self._mark(client, finished)
        done.settled.update(finished)
        done.result.marked = len(finished)
        done.result.waiting = len(spooled) - len(finished)
        return done

    def _groups(self, uids: Sequence[int], meta: Mapping[int, Any]) -> Iterator[list[int]]:
        """Bodies are fetched in groups of at most FETCH_BYTES (one mail may exceed it);
        a message that failed before is fetched alone, after the others, so it takes no
        other message down with it a second time."""
        group: list[int] = []
        size = 0
        for uid in uids:
            if uid in self._failures:
                continue
            length = int(meta[uid].get(b"RFC822.SIZE", 0))
            if group and size + length > FETCH_BYTES:
                yield group
                group, size = [], 0
            group.append(uid)
            size += length
        if group:
            yield group
        for uid in uids:
            if uid in self._failures:
                yield [uid]

    def _bodies(self, client: IMAPClient, uids: Sequence[int]) -> dict[int, bytes | str]:
        """Each message's bytes, or why it could not be fetched.

        A server may answer a message it cannot read with NO for the whole command (then the
        messages are asked for one by one) or by hanging up (Dovecot says BYE): then every
        message of the command is charged a failure before the connection error goes up,
        and the next try fetches each of them alone, so the broken one is found and, after
        FETCH_TRIES, left on the server instead of holding the folder up.
        """
        try:
            fetched = client.fetch(list(uids), ["BODY.PEEK[]"])
        except _CONNECTION_ERRORS:
            for uid in uids:
                self._failures[uid] = self._failures.get(uid, 0) + 1
            self.blamed = True
            raise
        except IMAPClientError as exc:
            if len(uids) == 1:
                return {uids[0]: f"cannot be fetched: {exc}"}
            found: dict[int, bytes | str] = {}
            for uid in uids:
                found.update(self._bodies(client, [uid]))
            return found
        bodies: dict[int, bytes | str] = {}
        for uid in uids:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            bodies[uid] = raw if isinstance(raw, bytes) else "the server sent no body"
        return bodies

    def _wait_finished(self, spool_ids: Sequence[str]) -> set[str]:
        """The spool ids whose outcome is still not committed after the bounded wait."""
        deadline = time.monotonic() + self.settle_wait
        while True:
            waiting = self.spool.unfinished(spool_ids)
            if not waiting or time.monotonic() >= deadline or self.stop.is_set():
                return waiting
            self.stop.wait(0.05)

    def _mark(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Only mail whose outcome is committed comes here: this is the "accepted" of IMAP."""
        if not uids:
            return
        flags = [SEEN, KEYWORD.encode()] if self._keywords else [SEEN]
        client.add_flags(list(uids), flags, silent=True)
        target = self.mailbox.move_to
        if target is None:
            return
        if client.has_capability("MOVE"):
            client.move(list(uids), target)
            return
        # RFC 6851's fallback; a crash between COPY and EXPUNGE leaves a copy behind, never a
        # second ticket (the next pass finds the same bytes already processed)
        client.copy(list(uids), target)
        client.add_flags(list(uids), [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(list(uids))
        else:
            client.expunge()

    # -- between passes --------------------------------------------------------------------

    def wait_for_mail(self, timeout: float) -> None:
        """IDLE until the server reports new mail (or `timeout`, or stop); else just sleep."""
        client = self._client
        if client is None or not self.mailbox.idle or not client.has_capability("IDLE"):
            self.stop.wait(timeout)
            return
        if _news_arrived(client):
            return  # announced during the last pass, after its SEARCH: IDLE would not repeat it
        deadline = time.monotonic() + min(timeout, IDLE_RENEW_SECONDS)
        client.idle()
        self.idling.set()
        try:
            if _news_arrived(client):
                return  # announced as IDLE began, before its "+ idling": imaplib kept it aside
            while not self.stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                responses = client.idle_check(timeout=1.0)
                if any(_is_bye(r) for r in responses):
                    raise IMAPClientAbortError("the server said BYE")
                if any(_is_news(r) for r in responses):
                    return
                if not responses and time.monotonic() - started < 0.5:
                    return  # woken with nothing to read: the connection ended (idle_done says)
        finally:
            self.idling.clear()
            client.idle_done()

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Pass, wait for mail, pass again, until `stop`; reconnect with backoff on errors."""
        if stop is not None:
            self.stop = stop
        delay = 1.0
        while not self.stop.is_set():
            self.blamed = False
            try:
                result = self.run_pass()
                # mail still being processed: look again soon, not after a long IDLE
                self.wait_for_mail(1.0 if result.waiting else self.mailbox.poll_interval)
                delay = 1.0
            except Exception as exc:
                self.close()
                if self.blamed:  # a broken message, not the network: on to isolating it
                    self._log_failure(exc, 0.0)
                    continue
                self._log_failure(exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        self.close()

    def run_once(self, tries: int = 3) -> PassResult:
        """One pass (`poll --once`), reconnecting up to `tries` times after network errors
        (a message that broke the connection costs a reconnect, not a try);
        MailboxUnavailable after that."""
        delay, failures = 1.0, 0
        try:
            while True:
                self.blamed = False
                try:
                    return self.run_pass()
                except (IMAPClientError, OSError, SpoolError) as exc:
                    self.close()
                    if self.blamed:
                        self._log_failure(exc, 0.0)
                        continue
                    failures += 1
                    # a refused login will not be accepted a moment later
                    if failures >= tries or isinstance(exc, LoginError):
                        raise MailboxUnavailable(
                            f"imap {self.mailbox.name!r} ({masked(self.mailbox.url)}): {exc}"
                        ) from exc
                    self._log_failure(exc, delay)
                    time.sleep(delay)
                    delay *= 2
        finally:
            self.close()

    def _log_failure(self, exc: Exception, delay: float) -> None:
        extra = {**self.context, "error": f"{type(exc).__name__}: {exc}", "retry_in": delay}
        if isinstance(exc, IMAPClientError | OSError | SpoolError):
            log.warning("mailbox unavailable; connecting again", extra=extra)
        else:
            log.exception("poller error; connecting again", extra=extra)


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return None


def _news_arrived(client: IMAPClient) -> bool:
    """Whether the server announced mail (EXISTS, RECENT) during our other commands:
    imaplib keeps such untagged responses aside, and nobody else looks at them."""
    stash = client._imap.untagged_responses
    return any([stash.pop("EXISTS", None), stash.pop("RECENT", None)])


def _is_news(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")


def _is_bye(response: tuple[Any, ...]) -> bool:
    return len(response) >= 1 and response[0] == b"BYE"


def _close(client: IMAPClient) -> None:
    """Log out politely if the server still answers, within seconds; drop the socket anyway."""
    with contextlib.suppress(Exception):
        client.socket().settimeout(5.0)
        client.logout()
    with contextlib.suppress(Exception):
        client.shutdown()


def build_pollers(
    config: Config,
    spool: Spool,
    settle: Callable[[ImapMailbox], Settle],
    *,
    names: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    settle_wait: float = SETTLE_WAIT_SECONDS,
) -> list[Poller]:
    """A poller per configured mailbox (or the ones named); passwords read here, once."""
    env = os.environ if environ is None else environ
    mailboxes = config.settings.imap
    unknown = sorted(set(names) - {m.name for m in mailboxes})
    if unknown:
        known = ", ".join(m.name for m in mailboxes) or "none configured"
        raise NotFound(f"--mailbox {unknown[0]}: no such [[imap]] mailbox (known: {known})")
    pollers = []
    for mailbox in mailboxes:
        if names and mailbox.name not in names:
            continue
        desk = config.desks[mailbox.desk] if mailbox.desk else None
        pollers.append(
            Poller(
                mailbox,
                spool,
                password=password_for(config, mailbox, env),
                max_size=config.settings.smtp.max_message_size,
                settle=settle(mailbox),
                rcpt_to=desk.addresses[:1] if desk else (),
                settle_wait=settle_wait,
            )
        )
    return pollers
