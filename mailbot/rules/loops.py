"""loops: never auto-reply to machines (RFC 3834): auto-replies, bounces, lists, bulk, ourselves.

An auto-reply answered by an auto-reply is how two robots fill each other's mailboxes
overnight; every signal a well-behaved sender sets is checked, and our own loop header last
catches the case of a mailbot answering another mailbot (or itself).
"""

from __future__ import annotations

from mailbot.headers import LOOP_HEADER
from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict

_MACHINE_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply"})
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
_REPORT_TYPES = ("multipart/report", "message/delivery-status", "message/disposition-notification")


class Loops:
    """Issue 3 calls this reason `auto_reply`; the rule keeps its family name, `loops`."""

    name = "loops"
    description = (
        "no automatic reply to auto-replies, bounces, mailing lists, bulk mail or mailbot itself"
    )

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        why = self._why(mail, context)
        if why is None:
            return None
        return Verdict(self.name, Action.drop, "auto_reply", why)

    @staticmethod
    def _why(mail: Mail, context: Context) -> str | None:
        auto_submitted = mail.header("auto-submitted").strip().lower()
        if auto_submitted and not auto_submitted.startswith("no"):
            return f"Auto-Submitted: {auto_submitted}"
        if mail.header(LOOP_HEADER):
            return f"{LOOP_HEADER}: {mail.header(LOOP_HEADER)} (sent by a mailbot)"
        precedence = mail.header("precedence").strip().lower()
        if precedence in _BULK_PRECEDENCE:
            return f"Precedence: {precedence}"
        if mail.header("list-id"):
            return f"List-Id: {mail.header('list-id')}"
        if context.envelope_from == "":
            return "empty return path (MAIL FROM:<>)"
        if mail.header("return-path").strip() == "<>":
            return "empty return path (Return-Path: <>)"
        local = mail.from_addr.partition("@")[0]
        if local in _MACHINE_LOCALPARTS:
            return f"sender {mail.from_addr} is a mail system address"
        for header in ("x-autoreply", "x-autorespond"):
            if mail.header(header):
                return f"{header}: {mail.header(header).strip()}"
        content_type = mail.header("content-type").lower()
        for report in _REPORT_TYPES:
            if report in content_type:
                return f"delivery or disposition report ({report})"
        return None


RULE = Loops
