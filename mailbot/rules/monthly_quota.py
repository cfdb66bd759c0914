"""monthly_quota: at most N requests a calendar month per customer (CleverBox, seed 004).

CleverBox refuses requests "при общем количестве обращений свыше 50 в календарный месяц";
past the limit, help is given only as paid additional services, which the reply says. The
pipeline counts the customer's tickets opened on this desk since the first of the month in
the desk's time zone; this mail would be one more. A customer's own `monthly_limit` (a
contract that buys more) wins over the desk's `limit`.

New requests only: answers in an existing ticket's thread are not new requests, and a
customer must be able to finish the conversations already open.
"""

from __future__ import annotations

from pydantic import Field

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict


class MonthlyQuota:
    name = "monthly_quota"
    reads = frozenset({"month_count"})
    description = "the customer's requests this calendar month would exceed the limit"

    class Settings(RuleSettings):
        limit: int = Field(50, ge=1)
        """New requests a customer may open per calendar month (desk time zone)."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.limit

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        customer = context.customer
        if customer is None or not context.is_new_request:
            return None
        limit = customer.monthly_limit or self.limit
        count = context.history.requests_this_month
        if count + 1 <= limit:
            return None
        return Verdict(
            self.name,
            Action.refuse,
            self.name,
            f"{customer.name} has opened {count} requests this month (limit {limit})",
            values={"limit": limit, "count": count},
        )


RULE = MonthlyQuota
