"""subscription_suspended: no support without a running subscription (CleverBox, seed 004).

CleverBox supports clients "на основании действующей подписки" and refuses "в случае
приостановления оказания услуг". A customer is out when its status says suspended or
ended, or when the last day of its subscription (`subscription_until`) lies before today in
the desk's time zone: a contract running until 30 November covers the whole of that day in
Kyiv, whatever the hour in UTC.

New requests only: a ticket accepted while the subscription ran is finished, and the
customer's answers in its thread must still reach the agent.
"""

from __future__ import annotations

from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict


class SubscriptionSuspended:
    name = "subscription_suspended"
    description = "the customer's service is suspended or its subscription has ended"

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        customer = context.customer
        if customer is None or not context.is_new_request:
            return None
        until = customer.subscription_until
        today = context.now.astimezone(context.desk.zone).date()
        if customer.status != "active":
            status, detail = customer.status, f"{customer.name} is {customer.status}"
        elif until is not None and until < today:
            status, detail = "ended", f"{customer.name}'s subscription ended on {until}"
        else:
            return None
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            detail,
            values={"status": status, "until": until.isoformat() if until else None},
        )


RULE = SubscriptionSuspended
