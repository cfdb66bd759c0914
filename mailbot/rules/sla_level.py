"""sla_level: emergency level only with a valid coupon of the sender's contract (CleverBox, 004).

CleverBox gives an emergency level (first reaction within 3 working hours, possibly around
the clock) to customers with a special agreement, who receive an alphanumeric coupon that
proves it and is renewed with the contract. A mail is `emergency` only when it carries a
coupon of the sender's own customer that is still valid: through its `valid_until` day in
the desk's time zone. Everything else is `standard`, and the detail tells the admin why when
a coupon was there but did not count: expired, or belonging to another customer (a coupon
passed around is no contract of the sender's).

The coupon is looked for in the subject and the whole text, signature and quoted history
included (customers keep it in their signature; a follow-up quotes the first mail), case
insensitively, and may stand between any punctuation ("Купон: «CB7F3K92QX».").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from mailbot.config import Coupon
from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict

EMERGENCY = "emergency"
STANDARD = "standard"


@dataclass(frozen=True)
class CouponCheck:
    level: str
    """emergency | standard"""
    coupon: str | None
    """The code that made the level emergency, else None."""
    why: str
    """For the admin: what was found and why it counted or not."""


@lru_cache(maxsize=1024)
def _pattern(code: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(code) + r"(?![A-Za-z0-9])", re.IGNORECASE)


def _written(coupon: Coupon, text: str) -> bool:
    return _pattern(coupon.code).search(text) is not None


def coupon_check(mail: Mail, context: Context) -> CouponCheck:
    """The service level a mail proves, and why; shared by every rule that asks."""
    text = f"{mail.subject}\n{mail.text}"
    today = context.now.astimezone(context.desk.zone).date()
    customer = context.customer
    expired: Coupon | None = None
    if customer is not None:
        for coupon in customer.coupons:
            if not _written(coupon, text):
                continue
            if coupon.valid_until >= today:
                return CouponCheck(
                    EMERGENCY,
                    coupon.code,
                    f"coupon {coupon.code} of {customer.name}, valid until {coupon.valid_until}",
                )
            expired = expired or coupon
    if expired is not None:
        return CouponCheck(
            STANDARD,
            None,
            f"coupon {expired.code} of {customer.name if customer else '?'} expired on"
            f" {expired.valid_until} (today is {_iso(today)} in {context.desk.timezone})",
        )
    for other in context.desk.customers:
        if customer is not None and other.name == customer.name:
            continue
        for coupon in other.coupons:
            if _written(coupon, text):
                sender = customer.name if customer is not None else "an unidentified sender"
                return CouponCheck(
                    STANDARD,
                    None,
                    f"coupon {coupon.code} belongs to {other.name}, but the mail comes from"
                    f" {sender} ({mail.from_addr})",
                )
    return CouponCheck(STANDARD, None, "no coupon of an emergency contract in the mail")


def _iso(day: date) -> str:
    return day.isoformat()


class SlaLevel:
    name = "sla_level"
    description = "emergency level only with a valid coupon of the sender's own contract"

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        found = coupon_check(mail, context)
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"{found.level}: {found.why}",
            annotations={"sla_level": found.level},
        )


RULE = SlaLevel
