"""parse: bytes -> Mail, pure; the only importer of mail-parser.

Mail arrives broken in every way a mailer can break it: wrong or invented charsets, raw 8-bit
headers, missing boundaries, recursion bombs, megabyte headers. Rules and tickets must never
meet any of that, so this module turns whatever bytes were accepted into one plain, typed
`Mail` value and writes down in `Mail.notes` what it had to repair. It raises only
`UnparseableMail`, and only when there is nothing to read at all: the pipeline then
quarantines the item instead of losing it.

The stdlib parser with `compat32` is used because it never raises on bad structure; its
defects become notes. Limits (depth, parts, sizes) keep hostile input cheap: past the hard ones
(`MAX_MIME_PARTS`, `MAX_MIME_DEPTH`, `MAX_LINES`) parse stops at once and raises
`MailTooComplex`, so the pipeline quarantines the mail instead of parsing it at any cost.
"""

from __future__ import annotations

import binascii
import html as html_lib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import Policy, compat32
from email.utils import getaddresses, parsedate_to_datetime

import magic
from inscriptis import get_text
from mailparser.dates import parse_mail_date

from mailbot.charsets import codec_for, guess
from mailbot.errors import UnparseableMail

__all__ = ["Attachment", "Mail", "MailTooComplex", "header_recipients", "parse"]

MAX_DEPTH = 20  # inner parts deeper than this are not read (noted)
MAX_PARTS = 500  # parts after this many are not read (noted)
# Hard limits: a mail past one of them is not parsed at all but quarantined as too complex.
# compat32 keeps a Message object per part (a few KB) and a str per line of the part being
# read (about 60 bytes): 2.5 million tiny parts took a worker to 1.1 GB.
MAX_MIME_PARTS = 5000
MAX_MIME_DEPTH = 100
MAX_LINES = 1_000_000  # counted in multipart mail only; a single part is read without lines
# Text is decoded from at most this many bytes a part, and this many over the whole mail.
MAX_DECODE_PART_BYTES = 4 * 1024 * 1024
MAX_DECODE_TOTAL_BYTES = 16 * 1024 * 1024
FEED_CHUNK = 64 * 1024
# Guessing a charset costs up to ~60 ms (32 KB of CJK text); past this many in one mail the
# desk's ladder alone decides, so 500 undeclared parts cannot hold a worker for half a minute.
MAX_GUESSES = 32
MAX_HTML_CHARS = 2 * 1024 * 1024
MAX_TEXT_CHARS = 1024 * 1024
MAX_HEADER_FIELDS = 1000
MAX_HEADER_CHARS = 64 * 1024
MAX_NOTES = 100
MAX_DEFECT_NOTES = 20
SNIFF_BYTES = 8192
MAX_FILENAME_CHARS = 255
# A date needs about 40 characters; a long one is junk and mail-parser scans it char by char.
MAX_DATE_CHARS = 256

_OCTET_STREAM = "application/octet-stream"
_ADDRESS_HEADERS = frozenset({"from", "sender", "to", "cc", "reply-to"})
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "resent-to")

# Unfolding joins continuation lines; every other line break (including the Unicode ones that
# str.splitlines honours) must go too, or a subject could smuggle a header into a reply.
_FOLD = re.compile(r"[ \t]*[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*|\t+|\x00+")
# Encoded text may not contain '?', so [^?] keeps the scan linear on hostile headers.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?]*)\?=")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_MSG_ID = re.compile(r"<([^<>]*)>")
_ID_SPLIT = re.compile(r"[\s,]+")
_WHITESPACE = re.compile(r"\s+")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_TAG = re.compile(r"<[^>]*>")
_ADDR_SPEC = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_SPACE_BEFORE_COLON = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)
# Directory separators are handled apart; these would hide or reorder a file's real name.
_FILENAME_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_PARSER = BytesParser(policy=compat32)
# A single-part body bigger than this is taken as it is, not line by line (see _structure).
WHOLE_BODY_BYTES = 1024 * 1024
# Routing and arrival dates read no further than this (the largest corpus header is 210 KB).
MAX_HEAD_BYTES = 4 * 1024 * 1024


class MailTooComplex(UnparseableMail):
    """Past a hard limit of structure: quarantined as `too_complex`, never parsed at any cost."""

    reason = "too_complex"


_HEADER_PARSER = BytesHeaderParser(policy=compat32)


@dataclass(frozen=True)
class Attachment:
    """A file as a rule must judge it: by its sniffed content, never by the sender's claims."""

    filename: str  # display name only, never a path; '' became 'attachment-<n>'
    size: int  # decoded bytes
    declared_type: str  # Content-Type as the sender declared it, lowercased
    sniffed_type: str  # libmagic's MIME type of the decoded content
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Mail:
    """Everything later rooms may know of a message; they never see the raw bytes again."""

    from_addr: str  # lowercased addr-spec of From (Sender if From has none), '' if none
    from_name: str  # decoded display name, '' if none
    to: tuple[str, ...]  # lowercased addr-specs, deduplicated, order kept
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    subject: str  # decoded, on one line, stripped
    message_id: str  # '<id@host>', '' if none
    in_reply_to: tuple[str, ...]  # '<...>' ids
    references: tuple[str, ...]  # '<...>' ids, oldest first as sent
    date: datetime | None  # Date: in aware UTC, None if missing or unreadable
    received_at: datetime  # aware UTC: when the message counts as received
    text: str  # text/plain body parts joined by a blank line, else the HTML as text
    html: str | None  # the first text/html body part, decoded
    attachments: tuple[Attachment, ...]
    headers: Mapping[str, tuple[str, ...]]  # lowercased name -> decoded values, top part only
    notes: tuple[str, ...]  # what was repaired or replaced, for a person to read

    def header(self, name: str) -> str:
        """First value only, '' when absent: rules test presence and content in one step."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""


def parse(
    raw: bytes,
    *,
    accepted_at: datetime,
    arrival_from_headers: bool = False,
    fallback_charsets: Sequence[str] = ("utf-8", "windows-1252"),
    languages: Sequence[str] = (),
) -> Mail:
    """Read raw bytes as a Mail; only UnparseableMail escapes, so one bad mail stops nothing.

    `arrival_from_headers` is for mail ingested long after it arrived (files, mailboxes): its
    own Received: trace then says when it counts as received. `fallback_charsets` is the
    desk's guess, in order, for text whose declared charset is missing or lies; `languages`
    (ISO 639-1 codes, the desk's) weight the detector that is asked before that ladder.
    Raises MailTooComplex (an UnparseableMail) past a hard limit of parts, depth or lines.

    A naive `accepted_at` is a caller's bug, not bad mail, so it raises ValueError instead of
    quarantining every message.
    """
    if accepted_at.tzinfo is None or accepted_at.utcoffset() is None:
        raise ValueError("accepted_at must be timezone-aware")
    if isinstance(fallback_charsets, str):
        fallback_charsets = (fallback_charsets,)
    try:
        return _Reader(fallback_charsets, languages).read(
            bytes(raw), accepted_at.astimezone(UTC), arrival_from_headers
        )
    except UnparseableMail:
        raise
    except RecursionError as exc:
        raise UnparseableMail("structure nested too deeply to read") from exc
    except MemoryError as exc:
        raise UnparseableMail("too large to read in memory") from exc
    except Exception as exc:  # a crash here would stop the worker on one message
        raise UnparseableMail(f"parser failure: {type(exc).__name__}: {exc}"[:200]) from exc


def header_recipients(raw: bytes) -> tuple[str, ...]:
    """Recipients as the headers name them, for mail that came without an SMTP envelope.

    Header-only and forgiving: routing must not fail on a body it never needs to read.
    """
    try:
        msg = _HEADER_PARSER.parsebytes(_head(bytes(raw)))
        found: dict[str, list[str]] = {}
        for name, value in _raw_items(msg):
            key = name.lower()
            if key in _RECIPIENT_HEADERS:
                text = value[:MAX_HEADER_CHARS]
                if not text.isascii():
                    text = text.encode("ascii", "surrogateescape").decode("utf-8", "replace")
                found.setdefault(key, []).append(_FOLD.sub(" ", text))
        values = [v for key in _RECIPIENT_HEADERS for v in found.get(key, ())]
        return tuple(addr for _name, addr in _addresses(values))
    except Exception:  # garbage in means "no recipients known", never a crash in routing
        return ()


def arrival_from_headers(raw: bytes) -> datetime | None:
    """When a stored mail counts as received by its own headers (the newest Received: with a
    date, else Date:), read from the header block alone; None when neither says.

    The same order `parse` uses for mail ingested long after it arrived, so a filter on this
    time (`reprocess --since`) agrees with the ticket's received time.
    """
    try:
        msg = _HEADER_PARSER.parsebytes(_head(bytes(raw)))
        received = [v for name, v in _raw_items(msg) if name.lower() == "received"]
        found = _Reader._received(received)
        if found is None:
            date = msg.get("date")
            found = _mail_date(str(date)[:MAX_DATE_CHARS]) if date else None
        return found
    except Exception:  # a mail without a readable date is filtered by nothing, never a crash
        return None


class _Reader:
    """One parse: the charset ladder and the notes it writes belong to a single message."""

    def __init__(self, fallback_charsets: Sequence[str], languages: Sequence[str] = ()) -> None:
        self.languages = tuple(languages)
        self.decode_budget = MAX_DECODE_TOTAL_BYTES
        self.guesses_left = MAX_GUESSES
        self.fallbacks: list[tuple[str, str]] = []
        for name in fallback_charsets:
            codec = codec_for(name)
            if codec is not None and all(codec != c for _n, c in self.fallbacks):
                self.fallbacks.append((name, codec))
        self.notes: list[str] = []
        self.notes_dropped = 0
        self.defect_notes = 0

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)
        else:
            self.notes_dropped += 1

    # -- the whole message -------------------------------------------------------------

    def read(self, raw: bytes, accepted_at: datetime, arrival_from_headers: bool) -> Mail:
        msg = _structure(raw)
        if not msg.keys():
            repaired = _repair_head(raw)
            if repaired is not None:
                msg = _structure(repaired)
                self.note("header block repaired (byte-order mark, blank lines or 'Name :' form)")
        if not msg.keys():
            raise UnparseableMail("no header fields found: not an e-mail message")
        headers, address_text = self._headers(msg)

        def first(name: str) -> str:
            values = headers.get(name)
            return values[0] if values else ""

        senders = _addresses(address_text.get("from", []))
        if not senders:
            senders = _addresses(address_text.get("sender", []))
        from_name, from_addr = senders[0] if senders else ("", "")
        from_name = self.words(from_name, "from name") if from_name else ""

        date = self._date(first("date"), "date")
        received_at = accepted_at
        if arrival_from_headers:
            received_at = self._received(headers.get("received", ())) or date or accepted_at

        text, html, attachments = self._body(msg)
        if self.notes_dropped:
            self.notes.append(f"{self.notes_dropped} further notes left out")
        ids = _message_ids(first("message-id"))
        return Mail(
            from_addr=from_addr,
            from_name=from_name,
            to=tuple(a for _n, a in _addresses(address_text.get("to", []))),
            cc=tuple(a for _n, a in _addresses(address_text.get("cc", []))),
            reply_to=tuple(a for _n, a in _addresses(address_text.get("reply-to", []))),
            subject=first("subject"),
            message_id=ids[0] if ids else "",
            in_reply_to=_message_ids(" ".join(headers.get("in-reply-to", ()))),
            references=_message_ids(" ".join(headers.get("references", ()))),
            date=date,
            received_at=received_at,
            text=text,
            html=html,
            attachments=tuple(attachments),
            headers=headers,
            notes=tuple(self.notes),
        )

    def _headers(self, msg: Message) -> tuple[dict[str, tuple[str, ...]], dict[str, list[str]]]:
        """Decode each header once; address headers also keep their pre-RFC 2047 text.

        Addresses are split before encoded words are decoded, so that a comma inside an
        encoded display name cannot split one address into two.
        """
        collected: dict[str, list[str]] = {}
        address_text: dict[str, list[str]] = {}
        for count, (name, value) in enumerate(_raw_items(msg)):
            if count == MAX_HEADER_FIELDS:
                self.note(f"more than {MAX_HEADER_FIELDS} header fields: the rest ignored")
                break
            key = name.strip().lower()
            text = self.unfold(value, key)
            if key in _ADDRESS_HEADERS:
                address_text.setdefault(key, []).append(text)
            collected.setdefault(key, []).append(self.words(text, key))
        self.defects(msg, "headers")
        return {k: tuple(v) for k, v in collected.items()}, address_text

    # -- headers ---------------------------------------------------------------------------

    def unfold(self, value: str, label: str) -> str:
        """Header text as one line with raw 8-bit bytes decoded, encoded words left alone."""
        if len(value) > MAX_HEADER_CHARS:
            self.note(f"{label}: value of {len(value)} characters cut to {MAX_HEADER_CHARS}")
            value = value[:MAX_HEADER_CHARS]
        if not value.isascii():
            # compat32 keeps undecodable header bytes as surrogate escapes
            value = self.text(value.encode("ascii", "surrogateescape"), None, label)
        return _FOLD.sub(" ", value).strip()

    def words(self, text: str, label: str) -> str:
        """RFC 2047 decoding, tolerant of the usual breakage (split multibyte runs, bad base64)."""
        if "=?" not in text:
            return text
        pieces: list[str] = []
        run = bytearray()
        run_charset: str | None = None
        pos = 0

        def flush() -> None:
            nonlocal run_charset
            if run_charset is not None:
                pieces.append(self.text(bytes(run), run_charset, label))
                run.clear()
                run_charset = None

        for match in _ENCODED_WORD.finditer(text):
            gap = text[pos : match.start()]
            charset = match.group(1)
            data = _decode_word(match.group(2), match.group(3))
            pos = match.end()
            if data is None:
                flush()
                pieces.append(gap + match.group(0))
                self.note(f"{label}: broken encoded word kept as it is")
                continue
            # whitespace between two encoded words is not part of the text (RFC 2047 6.2)
            if run_charset is not None and (not gap or gap.isspace()):
                if charset.lower() != run_charset.lower():
                    flush()
                    run_charset = charset
            else:
                flush()
                pieces.append(gap)
                run_charset = charset
            run += data
        flush()
        pieces.append(text[pos:])
        return _FOLD.sub(" ", "".join(pieces)).strip()

    def text(self, data: bytes, declared: str | None, label: str) -> str:
        """Declared charset if it is a mail charset and fits; else the best guess (detector and
        ladder, weighted by the desk's languages); else the ladder's first fit; else replacement.
        """
        data = self._budget(data, label)
        if not declared and data.isascii():
            return data.decode("ascii")
        tried: list[str] = []
        if declared:
            codec = codec_for(declared)
            if codec is None:
                reason = f"charset {declared[:60]!r} unknown"
            else:
                try:
                    return data.decode(codec)
                except (UnicodeError, ValueError):
                    tried.append(codec)
                    reason = f"bytes do not fit charset {declared[:60]!r}"
        else:
            reason = "8-bit text without charset"
        names = {codec: name for name, codec in reversed(self.fallbacks)}
        ladder = [codec for _name, codec in self.fallbacks if codec not in tried]
        found = None
        if self.guesses_left > 0:
            self.guesses_left -= 1
            found = guess(data, ladder, self.languages)
        elif self.guesses_left == 0:
            self.guesses_left = -1  # noted once
            self.note(f"more than {MAX_GUESSES} charset guesses: the desk's ladder alone after")
        if found is not None:
            if declared or found.codec != "utf-8":
                how = "guessed as" if found.detected else "decoded as"
                self.note(f"{label}: {reason}, {how} {names.get(found.codec, found.codec)}")
            return found.text
        for name, codec in self.fallbacks:
            if codec in tried:
                continue
            try:
                decoded = data.decode(codec)
            except (UnicodeError, ValueError):
                tried.append(codec)
                continue
            self.note(f"{label}: {reason}, decoded as {name} (no better guess)")
            return decoded
        codec = tried[0] if tried else "utf-8"
        self.note(f"{label}: {reason}; undecodable bytes replaced ({codec})")
        try:
            return data.decode(codec, "replace")
        except (UnicodeError, ValueError, LookupError):
            return data.decode("utf-8", "replace")

    def _budget(self, data: bytes, label: str) -> bytes:
        """Cut what is decoded: per part, and over the whole mail, at a line end if one is near."""
        limit = min(MAX_DECODE_PART_BYTES, max(self.decode_budget, 0))
        if len(data) > limit:
            if limit == MAX_DECODE_PART_BYTES:
                self.note(f"{label}: {len(data)} bytes of text, only the first {limit} decoded")
            else:
                self.note(f"{label}: decoding budget of {MAX_DECODE_TOTAL_BYTES} bytes spent")
            cut = data.rfind(b"\n", 0, limit)
            data = data[: cut + 1] if cut >= limit // 2 else data[:limit]
        self.decode_budget -= len(data)
        return data

    def defects(self, part: Message, label: str) -> None:
        for defect in part.defects:
            if self.defect_notes >= MAX_DEFECT_NOTES:
                return
            self.defect_notes += 1
            words = _CAMEL.sub(" ", type(defect).__name__.removesuffix("Defect")).lower()
            self.note(f"{label}: {words}")

    # -- dates -----------------------------------------------------------------------------

    def _date(self, value: str, label: str) -> datetime | None:
        if not value:
            return None
        value = value[:MAX_DATE_CHARS]
        exact = _mail_date(value)
        if exact is not None:
            return exact
        try:
            lenient = parsedate_to_datetime(value)
            if lenient.tzinfo is None:
                lenient = lenient.replace(tzinfo=UTC)
            lenient = lenient.astimezone(UTC)
        except Exception:  # stdlib raises several types on junk; any means "no date"
            self.note(f"{label}: unreadable date {value[:60]!r} ignored")
            return None
        if lenient.year < 1900:
            self.note(f"{label}: unreadable date {value[:60]!r} ignored")
            return None
        self.note(f"{label}: non-standard date {value[:60]!r} read leniently")
        return lenient

    @staticmethod
    def _received(values: Sequence[str]) -> datetime | None:
        """The topmost Received: with a date is the last hop, i.e. when the mail arrived."""
        for value in values:
            _head, sep, when = value.rpartition(";")
            if sep:
                found = _mail_date(when.strip()[:MAX_DATE_CHARS])
                if found is not None:
                    return found
        return None

    # -- body ------------------------------------------------------------------------------

    def _body(self, msg: Message) -> tuple[str, str | None, list[Attachment]]:
        texts: list[str] = []
        html: str | None = None
        attachments: list[Attachment] = []
        stack: list[tuple[Message, int]] = [(msg, 0)]
        count = 0
        deep_noted = False
        while stack:
            part, depth = stack.pop()
            count += 1
            if count > MAX_PARTS:
                self.note(f"more than {MAX_PARTS} MIME parts: the rest ignored")
                break
            label = f"part {count}"
            if part is not msg:
                self.defects(part, label)
            try:
                if part.is_multipart():
                    if part.get_content_maintype() == "message":
                        attachments.append(self._message(part, len(attachments) + 1, label))
                    elif depth >= MAX_DEPTH:
                        if not deep_noted:
                            self.note(f"MIME nesting deeper than {MAX_DEPTH}: inner parts ignored")
                            deep_noted = True
                    else:
                        children = part.get_payload()
                        if isinstance(children, list):
                            stack.extend(
                                (c, depth + 1) for c in reversed(children) if isinstance(c, Message)
                            )
                    continue
                kind, piece = self._leaf(part, len(attachments) + 1, label, html is None)
            except (RecursionError, MemoryError):
                raise
            except Exception as exc:  # one broken part must not cost the others
                self.note(f"{label}: unreadable ({type(exc).__name__}), skipped")
                continue
            if isinstance(piece, Attachment):
                attachments.append(piece)
            elif kind == "plain":
                texts.append(piece)
            elif kind == "html" and html is None:
                html = piece
        text = "\n\n".join(t for t in texts if t)
        if not text.strip() and html is not None:
            text = self._html_text(html)
        if len(text) > MAX_TEXT_CHARS:
            self.note(f"text of {len(text)} characters cut to {MAX_TEXT_CHARS}")
            text = text[:MAX_TEXT_CHARS]
        return text, html, attachments

    def _leaf(
        self, part: Message, number: int, label: str, want_html: bool
    ) -> tuple[str, str | Attachment]:
        """Classify one leaf: ('plain', text), ('html', html), ('', Attachment) or ('', '')."""
        ctype = part.get_content_type()
        maintype, _, subtype = ctype.partition("/")
        filename = self._filename(part, label)
        disposition = part.get_content_disposition()
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if disposition == "attachment" or filename is not None or maintype != "text":
            if maintype == "multipart" and disposition != "attachment" and filename is None:
                # a multipart without usable boundary: its raw text beats losing the body
                self.note(f"{label}: broken {ctype} read as plain text")
                return "plain", self._body_text(part, data, label)
            return "", self._attachment(filename or "", ctype, data, number, label)
        if subtype == "plain":
            return "plain", self._body_text(part, data, label)
        if subtype == "html":
            if not want_html:  # only the first HTML body is kept; later ones are alternatives
                return "", ""
            return "html", _newlines(self.text(data, part.get_content_charset(), label))
        # text/calendar, text/rfc822-headers, ...: not the body, but a rule may want them
        return "", self._attachment("", ctype, data, number, label)

    def _body_text(self, part: Message, data: bytes, label: str) -> str:
        text = _newlines(self.text(data, part.get_content_charset(), label))
        return text.lstrip("\ufeff").lstrip("\n").rstrip()

    def _html_text(self, html: str) -> str:
        if len(html) > MAX_HTML_CHARS:
            self.note(f"HTML of {len(html)} characters: only the first {MAX_HTML_CHARS} read")
            html = html[:MAX_HTML_CHARS]
        try:
            text = str(get_text(html))
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:  # inscriptis on hostile HTML: fall back to dropping tags
            self.note(f"HTML conversion failed ({type(exc).__name__}): tags stripped instead")
            text = html_lib.unescape(_TAG.sub(" ", html))
        return text.strip()

    def _filename(self, part: Message, label: str) -> str | None:
        """The declared name, decoded (RFC 2231, RFC 2047, raw 8-bit), or None when absent."""
        for header, param in (("content-disposition", "filename"), ("content-type", "name")):
            raw_text = _first_raw(part, header)
            if raw_text is None:
                continue
            holder = part
            if not raw_text.isascii():
                # compat32 would turn raw 8-bit bytes into U+FFFD; decode them with the ladder
                holder = Message()
                holder[header] = self.unfold(raw_text, f"{label} {param}")
            value = holder.get_param(param, None, header)
            if value is None:
                continue
            if isinstance(value, tuple):
                charset, _language, encoded = value
                data = str(encoded).encode("latin-1", "surrogateescape")
                name = self.text(data, str(charset) if charset else None, f"{label} {param}")
            else:
                name = str(value)
            return self.words(_FOLD.sub(" ", name), f"{label} {param}")
        return None

    def _attachment(
        self, filename: str, ctype: str, data: bytes, number: int, label: str
    ) -> Attachment:
        return Attachment(
            filename=_safe_filename(filename) or f"attachment-{number}",
            size=len(data),
            declared_type=ctype.lower(),
            sniffed_type=self._sniff(data, label),
            content=data,
        )

    def _message(self, part: Message, number: int, label: str) -> Attachment:
        """An enclosed message stays whole: its text is someone else's, not this mail's body."""
        ctype = part.get_content_type()
        inner = part.get_payload()
        blocks = [b for b in inner if isinstance(b, Message)] if isinstance(inner, list) else []
        try:
            content = b"\n".join(block.as_bytes() for block in blocks)
        except (RecursionError, MemoryError):
            self.note(f"{label}: enclosed message too deep to rebuild, content left empty")
            content = b""
        except Exception as exc:  # the generator may trip over what the parser tolerated
            self.note(f"{label}: enclosed message not rebuilt ({type(exc).__name__})")
            content = b""
        filename = self._filename(part, label)
        if not filename and ctype in ("message/rfc822", "message/global") and blocks:
            subject = _first_raw(blocks[0], "subject")
            if subject:
                base = _safe_filename(self.words(self.unfold(subject, f"{label} subject"), label))
                filename = f"{base}.eml" if base else None
        if not filename:
            subtype = ctype.partition("/")[2]
            is_message = subtype in ("rfc822", "global")
            filename = f"message-{number}.eml" if is_message else f"{subtype}-{number}.txt"
        return Attachment(
            filename=_safe_filename(filename) or f"message-{number}.eml",
            size=len(content),
            declared_type=ctype,
            sniffed_type=self._sniff(content, label),
            content=content,
        )

    def _sniff(self, data: bytes, label: str) -> str:
        try:
            return str(magic.from_buffer(data[:SNIFF_BYTES], mime=True))
        except Exception as exc:  # libmagic errors must not cost the attachment
            self.note(f"{label}: type not sniffed ({type(exc).__name__})")
            return _OCTET_STREAM


# -- pure helpers ----------------------------------------------------------------------------


def _raw_items(msg: Message) -> Iterator[tuple[str, str]]:
    """Header values as parsed, so raw 8-bit bytes stay recoverable as surrogate escapes."""
    for name, value in msg.raw_items():
        yield str(name), value if isinstance(value, str) else str(value)


def _first_raw(msg: Message, name: str) -> str | None:
    for key, value in _raw_items(msg):
        if key.lower() == name:
            return value
    return None


def _decode_word(encoding: str, data: str) -> bytes | None:
    if encoding in "Qq":
        return binascii.a2b_qp(data.encode("utf-8", "replace"), header=True)
    letters = _NOT_BASE64.sub("", data)
    if len(letters) % 4 == 1:
        letters = letters[:-1]
    try:
        return binascii.a2b_base64(letters + "=" * (-len(letters) % 4))
    except binascii.Error:
        return None


def _mail_date(value: str) -> datetime | None:
    try:
        found = parse_mail_date(value).value
    except Exception:  # mail-parser is robust, but a date must never be why a mail is lost
        return None
    if not isinstance(found, datetime) or found.tzinfo is None:
        return None
    try:
        return found.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _addresses(values: Sequence[str]) -> list[tuple[str, str]]:
    """(display name, lowercased addr-spec) pairs, deduplicated, each with an '@'.

    Encoded words stand aside as plain atoms while the list is split: their text may hold
    ':', '<', ',' or '@' (`=?utf-8?q?Support:_Team?= <a@b.test>`), which the address parser
    would otherwise read as a group, a route or a second address.
    """
    words: list[str] = []
    prefix = "mailbotword"
    joined = "".join(values)
    while prefix in joined:
        prefix += "q"

    def hide(match: re.Match[str]) -> str:
        words.append(match.group(0))
        return f"{prefix}{len(words) - 1}x"

    hidden = [_ENCODED_WORD.sub(hide, value) if "=?" in value else value for value in values]
    try:
        pairs = getaddresses(hidden)
    except RecursionError:
        # the stdlib address parser recurses once per stray word; a hostile list blows the stack
        pairs = [("", addr) for value in hidden for addr in _ADDR_SPEC.findall(value)]
    if words:
        placeholder = re.compile(re.escape(prefix) + r"(\d+)x")

        def show(text: str) -> str:
            return placeholder.sub(lambda m: words[int(m.group(1))], text)

        pairs = [(show(name), show(addr)) for name, addr in pairs]
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for name, addr in pairs:
        addr = addr.strip().lower()
        if "@" not in addr or addr in seen:
            continue
        seen.add(addr)
        found.append((name.strip(), addr))
    return found


def _message_ids(value: str) -> tuple[str, ...]:
    """Message ids in '<...>' form, in order; bare ids are accepted when they look like ids."""
    found = [_WHITESPACE.sub("", m) for m in _MSG_ID.findall(value)]
    if not found:
        found = [t for t in _ID_SPLIT.split(value) if "@" in t]
    ids: list[str] = []
    for token in found:
        if token and f"<{token}>" not in ids:
            ids.append(f"<{token}>")
    return tuple(ids)


class _PartCounter:
    """The feed parser's message factory: stops the parse at the part past a hard limit."""

    def __init__(self) -> None:
        self.parser: BytesFeedParser | None = None
        self.parts = 0

    def __call__(self, policy: Policy = compat32) -> Message:
        parser = self.parser
        if parser is not None:  # FeedParser calls the factory once to try it: not a part
            self.parts += 1
            if self.parts > MAX_MIME_PARTS:
                raise MailTooComplex(f"more than {MAX_MIME_PARTS} MIME parts (MAX_MIME_PARTS)")
            # the parser's stack of open parts (private, but in every Python since 2.4)
            if len(getattr(parser, "_msgstack", ())) >= MAX_MIME_DEPTH:
                raise MailTooComplex(
                    f"MIME parts nested deeper than {MAX_MIME_DEPTH} (MAX_MIME_DEPTH)"
                )
        return Message(policy=policy)


def _structure(raw: bytes) -> Message:
    """compat32's reading of the bytes, within the hard limits.

    compat32 keeps every line of a part as a str before joining them: 25 MB of blank lines
    took 1.1 GB. A big single-part body is therefore attached whole after its header block is
    parsed; multipart mail is read line by line only under MAX_LINES, and the factory stops
    it at MAX_MIME_PARTS parts or MAX_MIME_DEPTH levels.
    """
    head_end = _HEAD_END.search(raw)
    if head_end is not None and len(raw) - head_end.end() > WHOLE_BODY_BYTES:
        head = _PARSER.parsebytes(raw[: head_end.end()])
        single = head.get_content_maintype() not in ("multipart", "message")
        if head.keys() and single and not head.get_payload() and not head.defects:
            head.set_payload(raw[head_end.end() :].decode("ascii", "surrogateescape"))
            return head
    lines = raw.count(b"\n")
    if lines > MAX_LINES:
        raise MailTooComplex(f"{lines} lines, more than {MAX_LINES} (MAX_LINES)")
    counter = _PartCounter()
    parser = BytesFeedParser(_factory=counter, policy=compat32)
    counter.parser = parser
    for start in range(0, len(raw), FEED_CHUNK):
        parser.feed(raw[start : start + FEED_CHUNK])
    return parser.close()


def _head(raw: bytes) -> bytes:
    """The header block alone: the header parser would still keep every body line as a str."""
    found = _HEAD_END.search(raw, 0, MAX_HEAD_BYTES)
    return raw[: found.end()] if found else raw[:MAX_HEAD_BYTES]


def _repair_head(raw: bytes) -> bytes | None:
    """Undo what stops compat32 from seeing any header: a BOM, leading blank lines, and the
    obsolete 'Name  :' form (RFC 5322 4.5). Only tried when the normal parse found no header.
    """
    start = len(raw) - len(raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n"))
    head_end = _HEAD_END.search(raw, start)
    end = head_end.start() if head_end else len(raw)
    head = _SPACE_BEFORE_COLON.sub(rb"\1:", raw[start:end])
    repaired = head + raw[end:]
    return repaired if repaired != raw else None


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _safe_filename(name: str) -> str:
    """A display name only: whatever the sender wrote, it can never be used as a path."""
    name = _FILENAME_JUNK.sub("", name).replace("\\", "/").rpartition("/")[2].strip()
    if name in ("", ".", ".."):
        return ""
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:
            name = f"{stem[: MAX_FILENAME_CHARS - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name
