"""unknown_customer: support only for identified clients (CleverBox, seed 004).

CleverBox serves "на основании действующей подписки" and refuses a request when the client
cannot be identified ("невозможность идентификации клиента"). Listing this rule in a desk's
`rules` is the requirement; the pipeline has already matched the sender against the
customers' contacts and, where the desk allows it, their mail domains, and a stranger who
gave a customer's company name and one of its contract numbers (what this refusal asks for)
against those (`_identification`): such a mail reaches this rule with its customer.

Only one of the two (a contract number of one company, a company name alone) identifies
nobody; the refusal's detail says what the mail did give, for the agent who looks at it.

New requests only: a reply in the thread of a ticket we already accepted (a colleague the
customer copied in, an address that changed) continues a conversation an agent is having;
quarantining it would hide the answer the agent waits for.
"""

from __future__ import annotations

from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict
from mailbot.rules._identification import Contracts


class UnknownCustomer:
    name = "unknown_customer"
    description = "the sender is no known customer's contact (nor of a customer's domain)"

    def __init__(self, contracts: Contracts | None = None) -> None:
        self.contracts = contracts or Contracts(())

    @classmethod
    def for_desk(cls, desk: DeskSettings) -> UnknownCustomer:
        return cls(Contracts(desk.customers))

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if context.customer is not None or not context.is_new_request:
            return None
        where = " or domain" if context.desk.identify_by_domain else ""
        detail = f"{mail.from_addr or '(no sender)'} matches no customer's contact{where}"
        partly = self.contracts.one_factor(mail)
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"{detail}; {partly}" if partly else detail,
        )


RULE = UnknownCustomer
