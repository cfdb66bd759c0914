"""oversized: one attachment, or the whole mail, larger than the desk accepts (every desk).

The SMTP door already refuses what is larger than the server will take at all; this rule is
the desk's own, smaller measure, and it also covers mail that came in by file or IMAP. The
reply names the file and both sizes, so the customer knows what to shrink or to send as a
link instead of guessing.

It applies to follow-ups too: a 50 MB screenshot added to an open ticket is as unwelcome as
one in a new request, and refusing it does not touch the ticket, which waits as it was.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict

MIB = 1024 * 1024


class Oversized:
    name = "oversized"
    description = "refuse mail with an attachment or a total size over the desk's limits"

    class Settings(RuleSettings):
        max_attachment_bytes: int = Field(10 * MIB, ge=1)
        """Largest single attachment, decoded."""
        max_total_bytes: int = Field(25 * MIB, ge=1)
        """Largest mail: all attachments plus the text and HTML bodies, decoded."""

        @field_validator("max_total_bytes")
        @classmethod
        def _total_holds_one(cls, value: int, info: ValidationInfo) -> int:
            single = info.data.get("max_attachment_bytes")
            if single is not None and value < single:
                raise ValueError(
                    f"must be at least max_attachment_bytes ({single}), or no mail could"
                    " carry the largest attachment allowed"
                )
            return value

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        limit = self.settings.max_attachment_bytes
        largest = max(mail.attachments, key=lambda a: a.size, default=None)
        if largest is not None and largest.size > limit:
            return Verdict(
                self.name,
                Action.refuse,
                self.name,
                f"attachment {largest.filename} is {largest.size:,} bytes,"
                f" over the limit of {limit:,} per attachment",
                values={
                    "file_name": largest.filename,
                    "size_bytes": largest.size,
                    "limit_bytes": limit,
                },
            )
        total = sum(a.size for a in mail.attachments) + _text_bytes(mail)
        limit = self.settings.max_total_bytes
        if total > limit:
            return Verdict(
                self.name,
                Action.refuse,
                self.name,
                f"mail is {total:,} bytes ({len(mail.attachments)} attachments and text),"
                f" over the limit of {limit:,} per mail",
                values={"file_name": None, "size_bytes": total, "limit_bytes": limit},
            )
        return None


def _text_bytes(mail: Mail) -> int:
    size = len(mail.text.encode("utf-8", "replace"))
    if mail.html is not None:
        size += len(mail.html.encode("utf-8", "replace"))
    return size


RULE = Oversized
