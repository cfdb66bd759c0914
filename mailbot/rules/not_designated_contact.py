"""not_designated_contact: one specialist per customer writes to support (GRSoft, seed 002).

GRSoft has no access to its customers' systems, so it talks only to the one person of each
customer who knows where the system runs ("только один специалист от нашей компании").
Mail from anyone else of that customer, known by contact list or by domain, gets a reply
naming the designated contact, who can forward the request.

New requests only: when the designated contact copies a colleague into a ticket's thread,
that colleague's answer belongs to the conversation the specialist started. Senders no
customer claims are not this rule's business (GRSoft needs no contract).

A customer may buy its way out of the rule: GRSoft's individual SLA "о поддержке всех
пользователей заказчика" covers every user of that customer, so one of the paid services
the desk names in `exempt_services` (a customer's `services`) lets any of its people write.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from mailbot.config import service_codes
from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict


class NotDesignatedContact:
    name = "not_designated_contact"
    description = "the customer has one designated contact and the sender is someone else"

    class Settings(RuleSettings):
        exempt_services: list[str] = Field(default_factory=list)
        """Paid services (a customer's `services`) whose buyers every user may write for."""

        @field_validator("exempt_services")
        @classmethod
        def _codes(cls, value: list[str]) -> list[str]:
            return service_codes(value)

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or self.Settings()

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        customer = context.customer
        if customer is None or customer.designated_contact is None:
            return None
        if not context.is_new_request or mail.from_addr == customer.designated_contact:
            return None
        if set(customer.services) & set(self.settings.exempt_services):
            return None
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"{mail.from_addr} writes for {customer.name} (by {context.identified_by}),"
            f" whose designated contact is {customer.designated_contact}",
            values={"designated_contact": customer.designated_contact},
        )


RULE = NotDesignatedContact
