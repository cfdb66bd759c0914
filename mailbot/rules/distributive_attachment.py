"""distributive_attachment: no program distributives attached, however packed (GRSoft, seed 002).

GRSoft's regulation says it twice: never attach program distributives, such mail does not
reach us. Every desk ships with the rule, since no support desk wants installers in its
mailbox. Customers do not attach them out of malice but to "show the version they have",
and when a filter bounces `setup.exe` they rename it, zip it, zip it again or put a password
on it. So a file is judged by its bytes (a PE renamed `invoice.pdf` is still a PE), and
archives and enclosed e-mails are opened, within limits, to the file inside.

Decisions the regulation leaves open, taken here:
- What cannot be inspected is refused, with its own kind, so the customer reads what to do
  instead: a password-protected archive ("encrypted archive", the usual way installers
  are smuggled past filters), a RAR or CAB archive ("archive that cannot be inspected":
  reading RAR needs the non-free unrar tool, and a listing of names would prove nothing
  about the contents), a damaged archive (same kind), and an archive over the limits
  ("archive too large to inspect (possible zip bomb)"). The reply can ask for a plain ZIP
  or 7z; an admin can release the quarantined mail.
- Documents pass even though some are archives or compound files: DOCX/XLSX/ODF are ZIPs
  and are opened like any ZIP; .doc/.xls are OLE files like MSI, and only the MSI class id
  (or libmagic saying "MSI Installer") makes an OLE file an installer. SQLite databases,
  which GRSoft asks for, are just data.
- Disk images (DMG, ISO) count as distributives: that is how programs ship for macOS and on
  installation media, and nothing else a support desk needs comes as one.
- The limits are a budget per attachment, shared by everything inside it; an enclosed
  e-mail counts as one level of nesting, like an archive.
- Shell scripts are not looked for: they are text, and a support desk gets log excerpts and
  configuration snippets that would look the same.
- Follow-ups are checked too: an installer sent into an open ticket is as unwanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from mailbot.errors import UnparseableMail
from mailbot.parse import Attachment, Mail, parse
from mailbot.rules import Action, Context, RuleSettings, Verdict
from mailbot.rules._archives import Finding, Inspector, Limits, Member

MIB = 1024 * 1024
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})


class DistributiveAttachment:
    name = "distributive_attachment"
    description = (
        "refuse installers and executables attached, found by content, also inside archives"
    )

    class Settings(RuleSettings):
        max_depth: int = Field(3, ge=0, le=32)
        """Archives or enclosed mails inside one another: deeper ones are refused unopened."""
        max_entries: int = Field(1000, ge=1)
        """Entries over all archives inside one attachment."""
        max_unpacked_bytes: int = Field(100 * MIB, ge=1)
        """Bytes unpacked over all archives inside one attachment."""
        max_ratio: float = Field(200.0, gt=1)
        """Unpacked / packed size of one entry (checked for entries over 1 MiB)."""

    def __init__(self, settings: Settings) -> None:
        self.limits = Limits(
            max_depth=settings.max_depth,
            max_entries=settings.max_entries,
            max_unpacked_bytes=settings.max_unpacked_bytes,
            max_ratio=settings.max_ratio,
        )

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        opener = _MessageOpener(context.now)
        for attachment in mail.attachments:
            inspector = Inspector(self.limits, opener)
            found = inspector.inspect(
                attachment.content, attachment.filename, is_message=_is_message(attachment)
            )
            if found is not None:
                return self._verdict(attachment, found)
        return None

    def _verdict(self, attachment: Attachment, found: Finding) -> Verdict:
        inner = " > ".join(found.path) if found.path else None
        where = f"attachment {attachment.filename} ({attachment.sniffed_type})"
        if inner is not None:
            where = f"attachment {attachment.filename}, inside it {inner}"
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"{where}: {found.kind} ({found.evidence})",
            values={"file_name": attachment.filename, "inner_name": inner, "kind": found.kind},
        )


class _MessageOpener:
    """An enclosed e-mail's attachments, parsed the way the pipeline parses mail."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self, raw: bytes) -> Sequence[Member]:
        try:
            inner = parse(raw, accepted_at=self.now)
        except UnparseableMail:
            return ()
        return [Member(a.filename, a.content, _is_message(a)) for a in inner.attachments]


def _is_message(attachment: Attachment) -> bool:
    return attachment.declared_type in _MESSAGE_TYPES or attachment.sniffed_type in _MESSAGE_TYPES


RULE = DistributiveAttachment
