"""ingest.sources: the messages a mailbox holds, one at a time, for `reprocess` and `ingest`.

A SOURCE is a maildir (a folder with `cur/` and/or `new/`), an mbox file, a folder of mail
files, a single mail file, or a URL whose scheme a transport registered with
`register_scheme` (`imap://` and `imaps://`: `ingest/imap_folder.py`). Each yields `Found`
values in a stable order: where the message sits in the source (`key`), its bytes, and when
the source says it arrived.

Memory does not grow with the mailbox: bytes are read one message at a time and a message
over the size limit is counted through, never held. A maildir or folder keeps only its list
of names (sorted, so a follow-up comes after the mail it answers, as it was delivered).

When the source says a message arrived (`arrived_at`):
- maildir: the file's mtime. Dovecot keeps a message's IMAP INTERNALDATE there and migration
  tools (imapsync, doveadm, offlineimap) set it, whereas the time in the file's name is when
  this copy was written, i.e. the migration.
- mbox: the date on its `From ` line (taken as UTC unless it names a zone); `From -` without a
  date says nothing.
- mail files: nothing; a file's mtime is when it was copied, not when the mail arrived.
`since`/`until` filters use that time, else the mail's own Received:/Date: (as `ingest`).

mbox: a file whose first line is a `From ` line. A separator is a `From ` line carrying one
sender word and either nothing more or a date, followed by a header line; so an unquoted
"From Russia with love" in a body stays in the body, and separators without the blank line
before them (older Netscape files) still split. Bodies are un-quoted as mboxrd does (one `>`
taken from every `>From `, `>>From `... line): exact for mboxrd files; an mboxo file loses
one `>` from a body line that began with `>From ` before quoting, which mboxo cannot tell
apart. A file holding just one message is taken byte for byte (it is a saved .eml with its
envelope line), so its spool id is the same as when `ingest` took it whole.

This module is a transport: it imports the spool's neighbours only (pure helpers), never the
store or the pipeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Protocol

from mailbot.errors import MailbotError, NotFound
from mailbot.parse import arrival_from_headers
from mailbot.redact import masked

CHUNK = 64 * 1024
"""Longest piece of a line read at once: a base64 blob without line ends stays bounded."""

_BOM = b"\xef\xbb\xbf"
_FROM_LINE = re.compile(rb"From (\S*)(?:[ \t]+(.*?))?[ \t]*\r?\n?\Z", re.DOTALL)
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
_QUOTED_FROM = re.compile(rb">+From ")
_TIME = re.compile(rb"\d{1,2}:\d{2}")
_YEAR = re.compile(rb"\d{4}")


class SourceError(MailbotError):
    """A SOURCE that cannot be opened at all (missing, not a mailbox, an unwired scheme)."""

    exit_code = NotFound.exit_code


@dataclass(frozen=True)
class Found:
    """One message of a source: its bytes, or why they cannot be taken (`problem`)."""

    key: str
    """Where it sits: `cur/<name>` in a maildir, `#<n>@<byte offset>` in an mbox, a path."""
    raw: bytes | None
    arrived_at: datetime | None = None
    problem: str | None = None
    """`oversized` or `unreadable` when raw is None."""
    detail: str | None = None

    def received_at(self) -> datetime | None:
        """The time `--since/--until` compare: the source's, else the mail's own headers."""
        if self.arrived_at is not None:
            return self.arrived_at
        return arrival_from_headers(self.raw) if self.raw is not None else None


class Source(Protocol):
    """What `reprocess` iterates. An IMAP folder is one more implementation (see
    `register_scheme`); it yields UIDs as keys and INTERNALDATE as arrival time."""

    label: str
    """The SOURCE as the user gave it, without any password."""
    kind: str
    """maildir | mbox | files | imap ..."""

    def messages(self) -> Iterator[Found]: ...

    def size_hint(self) -> int | None:
        """How many messages, when that is cheap to know (for a progress bar); else None."""
        ...


Opener = Callable[[str, int, "PasswordReader"], Source]
PasswordReader = Callable[[], str]
"""Reads the password only when a source needs it (MAILBOT_IMAP_PASSWORD, --password-file)."""

_SCHEMES: dict[str, Opener] = {}


def register_scheme(scheme: str, opener: Opener) -> None:
    """The hook for URL sources: `ingest/imap_folder.py` registers `imap` and `imaps` here."""
    _SCHEMES[scheme.lower()] = opener


def open_source(spec: str, max_size: int, password: PasswordReader | None = None) -> Source:
    """The source `spec` names; SourceError with a plain reason when there is none."""
    scheme, sep, _rest = spec.partition("://")
    if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        opener = _SCHEMES.get(scheme.lower())
        if opener is None:
            raise SourceError(f"{masked(spec)}: unknown kind of source {scheme}://")
        return opener(spec, max_size, password or _no_password)
    path = Path(spec)
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return Maildir(path, max_size)
        return MailFiles(path, max_size)
    if path.is_file() and starts_like_mbox(path):
        return Mbox(path, max_size)
    if path.exists() or path.is_symlink():
        return MailFiles(path, max_size)  # unreadable, a device...: reported per message
    raise SourceError(f"{spec}: no such file or folder")


def _no_password() -> str:
    raise SourceError("this source needs a password: set MAILBOT_IMAP_PASSWORD or --password-file")


# -- single files ---------------------------------------------------------------------------


def read_limited(path: Path, max_size: int) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, None, None) or (None, problem, detail): size is checked before reading."""
    try:
        size = path.stat().st_size
        if size > max_size:
            return None, "oversized", f"{size} bytes, the limit is {max_size}"
        return path.read_bytes(), None, None
    except OSError as exc:
        return None, "unreadable", f"cannot read: {exc.strerror or exc}"


def starts_like_mbox(path: Path) -> bool:
    """An mbox begins with a `From ` line (after a byte-order mark some editors add)."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_BOM) + 5)
    except OSError:
        return False
    return head.removeprefix(_BOM).startswith(b"From ")


class MailFiles:
    """A mail file, or a folder of them (walked in name order, hidden files left out); a
    file that starts like an mbox is read as one."""

    kind = "files"

    def __init__(self, path: Path, max_size: int) -> None:
        self.path = path
        self.label = str(path)
        self.max_size = max_size

    def _files(self) -> Iterator[Path]:
        if not self.path.is_dir():
            yield self.path
            return
        for folder, dirs, names in os.walk(self.path, onerror=_raise):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    yield Path(folder) / name

    def size_hint(self) -> int | None:
        return None if self.path.is_dir() or starts_like_mbox(self.path) else 1

    def messages(self) -> Iterator[Found]:
        try:
            for file in self._files():
                key = str(file)
                if starts_like_mbox(file):
                    yield from Mbox(file, self.max_size, prefix=f"{key}").messages()
                    continue
                raw, problem, detail = read_limited(file, self.max_size)
                yield Found(key, raw, None, problem, detail)
        except OSError as exc:
            yield Found(self.label, None, None, "unreadable", f"cannot list: {exc}")


def _raise(exc: OSError) -> None:
    raise exc


# -- maildir --------------------------------------------------------------------------------


class Maildir:
    """`new/` and `cur/` of one maildir folder (its Maildir++ subfolders are sources of
    their own), oldest first by mtime, then by name."""

    kind = "maildir"

    def __init__(self, path: Path, max_size: int) -> None:
        self.path = path
        self.label = str(path)
        self.max_size = max_size
        self._listed: list[tuple[float, str]] | None = None

    def _list(self) -> list[tuple[float, str]]:
        if self._listed is None:
            entries: list[tuple[float, str]] = []
            for sub in ("cur", "new"):
                folder = self.path / sub
                if not folder.is_dir():
                    continue
                with os.scandir(folder) as scan:
                    for entry in scan:
                        if entry.name.startswith("."):
                            continue
                        try:
                            if entry.is_dir():
                                continue
                            mtime = entry.stat().st_mtime
                        except OSError:  # a dangling link: listed, reported unreadable
                            mtime = 0.0
                        entries.append((mtime, f"{sub}/{entry.name}"))
            entries.sort()
            self._listed = entries
        return self._listed

    def size_hint(self) -> int | None:
        return len(self._list())

    def messages(self) -> Iterator[Found]:
        for mtime, key in self._list():
            raw, problem, detail = read_limited(self.path / key, self.max_size)
            arrived = datetime.fromtimestamp(mtime, UTC) if mtime else None
            yield Found(key, raw, arrived, problem, detail)


# -- mbox -----------------------------------------------------------------------------------


def is_separator(line: bytes, following: bytes | None) -> bool:
    """Is `line` an mbox `From ` line, given the line after it?"""
    found = _FROM_LINE.match(line)
    if found is None:
        return False
    tail = found.group(2)
    if tail and not (_TIME.search(tail) and _YEAR.search(tail)):
        return False  # "From Russia with love": prose, not a sender and a date
    return following is not None and _HEADER_LINE.match(following) is not None


def from_line_date(line: bytes) -> datetime | None:
    """The date of a `From sender date` line (asctime, UTC unless it says otherwise)."""
    found = _FROM_LINE.match(line)
    tail = found.group(2) if found else None
    if not tail:
        return None
    text = " ".join(tail.decode("ascii", "replace").split())
    for fmt in ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S %z %Y", "%a %b %d %H:%M:%S %Y %z"):
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def quote_from(body: bytes) -> bytes:
    """mboxrd quoting of a message's lines (what `unquote` undoes), for writers and tests."""
    return b"".join(
        b">" + line if line.lstrip(b">").startswith(b"From ") else line
        for line in body.splitlines(keepends=True)
    )


class Mbox:
    """One mbox file, read line by line (long lines in pieces of CHUNK bytes)."""

    kind = "mbox"

    def __init__(self, path: Path, max_size: int, prefix: str = "") -> None:
        self.path = path
        self.label = str(path)
        self.max_size = max_size
        self.prefix = prefix

    def size_hint(self) -> int | None:
        return None

    def messages(self) -> Iterator[Found]:
        try:
            file = self.path.open("rb")
        except OSError as exc:
            yield Found(self.prefix or self.label, None, None, "unreadable", f"cannot read: {exc}")
            return
        with file:
            yield from self._split(file)

    def _key(self, number: int, offset: int) -> str:
        where = f"#{number}@{offset}"
        return f"{self.prefix}{where}" if self.prefix else where

    def _split(self, file: IO[bytes]) -> Iterator[Found]:
        pieces = _pieces(file)
        first = next(pieces, None)
        if first is None:
            return
        offset, line, _start = first
        line = line.removeprefix(_BOM) if offset == 0 else line
        message = _Collect(self.max_size, line, offset)
        number = 0
        held: Found | None = None  # the first message, until we know there is a second
        lookahead = next(pieces, None)
        while lookahead is not None:
            offset, line, at_start = lookahead
            lookahead = next(pieces, None)
            following = lookahead[1] if lookahead is not None and lookahead[2] else None
            if at_start and is_separator(line, following):
                number += 1
                done = message.found(self._key(number, message.offset))
                if held is not None:
                    yield held
                    held = None
                if number == 1:
                    held = done
                else:
                    yield done
                message = _Collect(self.max_size, line, offset)
                continue
            message.add(line, at_start)
        number += 1
        last = message.found(self._key(number, message.offset))
        if number == 1:
            yield self._whole(last)
            return
        if held is not None:
            yield held
        yield last

    def _whole(self, only: Found) -> Found:
        """A file of one message is taken as it is (see the module's note)."""
        only = Found(self.prefix or only.key, only.raw, only.arrived_at, only.problem, only.detail)
        if only.raw is None:
            return only
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            return Found(only.key, None, only.arrived_at, "unreadable", f"cannot read: {exc}")
        if len(raw) > self.max_size:
            return Found(only.key, None, only.arrived_at, "oversized", _too_big(len(raw), self))
        return Found(only.key, raw, only.arrived_at)


def _too_big(size: int, source: Mbox) -> str:
    return f"{size} bytes, the limit is {source.max_size}"


def _pieces(file: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, piece, starts a line) for each line, long lines cut into CHUNK pieces."""
    offset = 0
    at_start = True
    while True:
        piece = file.readline(CHUNK)
        if not piece:
            return
        yield offset, piece, at_start
        offset += len(piece)
        at_start = piece.endswith(b"\n")


class _Collect:
    """One mbox message being read: its lines un-quoted, or only counted once too big."""

    def __init__(self, max_size: int, from_line: bytes, offset: int) -> None:
        self.max_size = max_size
        self.from_line = from_line
        self.offset = offset
        self.parts: list[bytes] = []
        self.size = 0
        self.last_line_start = True

    def add(self, piece: bytes, at_start: bool) -> None:
        if at_start and _QUOTED_FROM.match(piece):
            piece = piece[1:]
        self.size += len(piece)
        if self.size <= self.max_size + 2:  # +2: the blank line the mbox adds is no part of it
            self.parts.append(piece)
        else:
            self.parts.clear()

    def found(self, key: str) -> Found:
        arrived = from_line_date(self.from_line)
        if self.size > self.max_size + 2:
            return Found(
                key, None, arrived, "oversized", f"{self.size} bytes, the limit is {self.max_size}"
            )
        raw = b"".join(self.parts)
        # the blank line an mbox writes between messages belongs to the mbox, not the mail
        if raw.endswith(b"\r\n\r\n"):
            raw = raw[:-2]
        elif raw.endswith(b"\n\n"):
            raw = raw[:-1]
        if len(raw) > self.max_size:
            return Found(
                key, None, arrived, "oversized", f"{len(raw)} bytes, the limit is {self.max_size}"
            )
        return Found(key, raw, arrived)
