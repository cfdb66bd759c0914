"""customer_authentication: a mail speaks for a customer only with proof that it is theirs.

Anybody can write `From: olena@vector.test`. A desk that knows its customers by their
addresses (contacts, or a customer's mail domain) gives such a mail that customer's rights:
it opens tickets on the customer's account, counts toward the customer's monthly quota, and
its replies go to the customer's contact. 209 mails forged as a CleverBox contact made 50
tickets, 159 quota refusals, and used up the real contact's hourly auto-reply allowance.

Listed (right after `loops`, before any rule that reads the customer), this rule asks for a
pass that the desk's own receiving host recorded in an `Authentication-Results` header: DKIM
signed by the From's domain, or DMARC passing for it (or, where the desk accepts it, SPF for
a return path in the From's domain). A mail that claims a customer without one is
quarantined as `unauthenticated_sender`, and nobody is answered (the From is the very
address that was forged, see outcomes.SILENT_REASONS): it opens no ticket, so it counts
toward no quota, and queues no reply, so it uses up no rate limit. An admin who knows better
releases it with `quarantine release --force`.

A sender who claims no customer is none of this rule's business (the desk's other rules and
the recipient choice of replies.py deal with strangers). `required = false` only records
what the check found (in the ticket's history) without refusing: for a desk trying it out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mailbot import authentication
from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict

Method = Literal["dkim", "dmarc", "spf"]

UNAUTHENTICATED = "unauthenticated_sender"
AUTHENTICATED = "authenticated_sender"
"""The reason of the annotating verdict that records a pass (or, not required, a failure)."""


class CustomerAuthentication:
    name = "customer_authentication"
    description = "a mail claiming a customer's address has no DKIM/DMARC pass from a trusted host"

    class Settings(RuleSettings):
        trusted_hosts: list[str] = Field(min_length=1)
        """authserv-ids of the desk's own receiving hosts (their Authentication-Results
        headers are the only ones believed; they must remove copies claiming their name)."""
        methods: tuple[Method, ...] = Field(("dkim", "dmarc"), min_length=1)
        """Any one of these passing, aligned with the From's domain, is proof enough."""
        required: bool = True
        """false: record what was found, refuse nothing."""

    def __init__(self, settings: Settings) -> None:
        self.trusted_hosts = tuple(settings.trusted_hosts)
        self.methods = tuple(settings.methods)
        self.required = settings.required

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        # a stranger identified by company name and contract number claims no address of
        # the customer's: there is nothing forged to catch (its ticket waits for an agent)
        if context.customer is None or context.identified_by == "contract":
            return None
        checked = authentication.check(
            mail.headers,
            authentication.domain_of(mail.from_addr),
            self.trusted_hosts,
            self.methods,
        )
        if checked.ok:
            return Verdict(self.name, Action.annotate, AUTHENTICATED, checked.passed or "")
        detail = (
            f"{mail.from_addr} claims {context.customer.name} (by its {context.identified_by}),"
            f" but the mail has {checked.why}"
        )
        if not self.required:
            return Verdict(self.name, Action.annotate, UNAUTHENTICATED, detail)
        return Verdict(self.name, Action.refuse, UNAUTHENTICATED, detail)


RULE = CustomerAuthentication
