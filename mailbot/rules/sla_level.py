"""sla_level: emergency level only with a valid coupon of the sender's contract (CleverBox, 004).

CleverBox gives an emergency level (first reaction within 3 working hours, possibly around
the clock) to customers with a special agreement, proven by a coupon; `_coupons` says when a
coupon counts (it is shared with `out_of_scope`, whose exclusions may yield to it). Every
mail gets a level: `emergency`, or `standard` with the reason in the detail.
"""

from __future__ import annotations

from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict
from mailbot.rules._coupons import Coupons


class SlaLevel:
    name = "sla_level"
    description = "emergency level only with a valid coupon of the sender's own contract"

    def __init__(self, coupons: Coupons) -> None:
        self.coupons = coupons

    @classmethod
    def for_desk(cls, desk: DeskSettings) -> SlaLevel:
        return cls(Coupons(desk.customers))

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        found = self.coupons.check(mail, context)
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"{found.level}: {found.why}",
            annotations={"sla_level": found.level},
        )


RULE = SlaLevel
