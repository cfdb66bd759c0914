"""unknown_customer: support only for identified clients (CleverBox, seed 004).

CleverBox serves "на основании действующей подписки" and refuses a request when the client
cannot be identified ("невозможность идентификации клиента"). Listing this rule in a desk's
`rules` is the requirement; the pipeline has already matched the sender against the
customers' contacts and, where the desk allows it, their mail domains.

New requests only: a reply in the thread of a ticket we already accepted (a colleague the
customer copied in, an address that changed) continues a conversation an agent is having;
quarantining it would hide the answer the agent waits for.
"""

from __future__ import annotations

from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict


class UnknownCustomer:
    name = "unknown_customer"
    description = "the sender is no known customer's contact (nor of a customer's domain)"

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if context.customer is not None or not context.is_new_request:
            return None
        where = " or domain" if context.desk.identify_by_domain else ""
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"{mail.from_addr or '(no sender)'} matches no customer's contact{where}",
        )


RULE = UnknownCustomer
