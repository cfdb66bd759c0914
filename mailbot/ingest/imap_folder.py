"""ingest.imap_folder: an IMAP folder as a `reprocess` SOURCE; reads the server, writes nothing.

`mailbot reprocess imap://user@host:143/INBOX` walks every message of the folder, oldest UID
first, the way it walks a maildir. Unlike the poller it leaves the mailbox exactly as it
found it: the folder is selected read-only (EXAMINE) and bodies are fetched with BODY.PEEK[],
so no flag changes and nothing moves; what was taken is known by the spool's content hash,
which is what makes a second run report everything as already taken. Bodies come in groups
bounded in bytes, so memory does not grow with the folder. The key of a message is
`uid:<UIDVALIDITY>/<UID>` and its arrival time the server's INTERNALDATE.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from pydantic import ValidationError

from mailbot.config import ImapMailbox
from mailbot.errors import MailboxUnavailable
from mailbot.ingest.imap import FETCH_BYTES, logged_in
from mailbot.ingest.sources import Found, PasswordReader, SourceError, register_scheme
from mailbot.redact import masked

META_BATCH = 1000
"""UIDs whose size and date are asked for in one command."""


@dataclass
class ImapFolder:
    """One folder of one server, read once from the oldest message to the newest."""

    box: ImapMailbox
    password: PasswordReader
    max_size: int
    label: str
    """The URL as given (it holds no password: the configuration model refuses one)."""
    kind: str = "imap"

    def size_hint(self) -> int | None:
        return None  # known only once connected; the bar counts without a total

    def messages(self) -> Iterator[Found]:
        client = self._connect()
        try:
            uidvalidity = int(client.select_folder(self.box.folder, readonly=True)[b"UIDVALIDITY"])
            uids = sorted(client.search("ALL"))
            for start in range(0, len(uids), META_BATCH):
                chunk = uids[start : start + META_BATCH]
                meta = client.fetch(chunk, ["RFC822.SIZE", "INTERNALDATE"])
                yield from self._chunk(client, uidvalidity, chunk, meta)
        except (IMAPClientError, OSError) as exc:
            raise MailboxUnavailable(f"{self.label}: the server failed mid-read: {exc}") from exc
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                client.logout()

    def _connect(self) -> IMAPClient:
        try:
            return logged_in(self.box, self.password())
        except LoginError as exc:
            raise MailboxUnavailable(f"{self.label}: login refused: {exc}") from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxUnavailable(f"{self.label}: cannot connect: {exc}") from exc

    def _chunk(
        self, client: IMAPClient, uidvalidity: int, uids: list[int], meta: dict[int, Any]
    ) -> Iterator[Found]:
        group: list[int] = []
        size = 0
        for uid in uids:
            data = meta.get(uid)
            if data is None:
                continue  # expunged by someone else since the search: not in the folder now
            length = int(data.get(b"RFC822.SIZE", 0))
            if length > self.max_size:
                yield Found(
                    self._key(uidvalidity, uid),
                    None,
                    _arrival(data),
                    problem="oversized",
                    detail=f"{length} bytes, the limit is {self.max_size}",
                )
                continue
            if group and size + length > FETCH_BYTES:
                yield from self._bodies(client, uidvalidity, group, meta)
                group, size = [], 0
            group.append(uid)
            size += length
        if group:
            yield from self._bodies(client, uidvalidity, group, meta)

    def _bodies(
        self, client: IMAPClient, uidvalidity: int, uids: list[int], meta: dict[int, Any]
    ) -> Iterator[Found]:
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
        for uid in uids:
            raw = fetched.get(uid, {}).get(b"BODY[]")
            key = self._key(uidvalidity, uid)
            if isinstance(raw, bytes):
                yield Found(key, raw, _arrival(meta[uid]))
            else:
                yield Found(key, None, _arrival(meta[uid]), "unreadable", "the server sent no body")

    @staticmethod
    def _key(uidvalidity: int, uid: int) -> str:
        return f"uid:{uidvalidity}/{uid}"


def _arrival(data: dict[bytes, Any]) -> datetime | None:
    value = data.get(b"INTERNALDATE")
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def open_folder(spec: str, max_size: int, password: PasswordReader) -> ImapFolder:
    """The folder `spec` names (imap:// or imaps://, no password in it); SourceError if bad."""
    try:
        box = ImapMailbox(name="reprocess", url=spec)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise SourceError(f"{masked(spec)}: {reason}") from exc
    return ImapFolder(box, password, max_size, masked(spec))


register_scheme("imap", open_folder)
register_scheme("imaps", open_folder)
