"""duplicate: a mail we already have is not a second request (CleverBox, seed 004; all desks).

CleverBox refuses "повторная отправка сообщений, либо отправка одинаковых сообщений на
несколько адресов". Two kinds of copies are caught:

- The same Message-ID already stored on this desk. That is the very same mail delivered
  again (a sender's retry, a second MX, one mail addressed to two of our addresses). It is a
  duplicate even when it threads into a ticket as a follow-up: adding it would put the same
  message into the ticket twice and, for a ticket waiting on the customer, answer it twice.
- For new requests only: the same sender with the same subject and new text (quotes,
  signatures, Re: and case ignored) within `window_hours` of each other, i.e. the customer
  pressed "send" again or wrote the same text to several of our addresses as separate mails.
  A follow-up that repeats earlier words ("still not working") is a message in its ticket,
  never a duplicate. A mail with no text of its own (only attachments) is not compared this
  way: two different screenshots under the same subject would look identical.

The reply names the ticket that already holds the request, so nothing is lost to the sender.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict
from mailbot.textnorm import fingerprint, new_text


class Duplicate:
    name = "duplicate"
    reads = frozenset({"duplicates"})
    description = "the same mail again (same Message-ID, or same sender, subject and text recently)"

    class Settings(RuleSettings):
        window_hours: float = Field(24.0, gt=0)
        """How far apart two identical mails from one sender still count as one request."""

    def __init__(self, settings: Settings) -> None:
        self.window = timedelta(hours=settings.window_hours)

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        history = context.history
        if mail.message_id and history.ticket_with_message_id:
            return self._verdict(
                history.ticket_with_message_id,
                f"Message-ID {mail.message_id} is already in {history.ticket_with_message_id}",
            )
        if not context.is_new_request or not new_text(mail.text):
            return None
        mine = fingerprint(mail.subject, mail.text)
        # newest first: the last match is the earliest ticket holding this request
        first = None
        for recent in history.recent_from_sender:
            if recent.fingerprint == mine and abs(mail.received_at - recent.received_at) <= (
                self.window
            ):
                first = recent
        if first is None:
            return None
        hours = abs(mail.received_at - first.received_at).total_seconds() / 3600
        return self._verdict(
            first.ticket,
            f"same sender, subject and text as {first.ticket}, {hours:.1f} h apart",
        )

    def _verdict(self, ticket: str, detail: str) -> Verdict:
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            detail,
            values={"first_ticket": ticket},
            ticket=ticket,
        )


RULE = Duplicate
