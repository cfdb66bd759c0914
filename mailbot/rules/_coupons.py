"""_coupons: the service level a mail proves with a coupon; read by `sla_level` and `out_of_scope`.

CleverBox gives an emergency level to customers with a special agreement, who receive an
alphanumeric coupon that proves it and is renewed with the contract. A mail is `emergency`
only when it carries a coupon of the sender's own customer that is still valid: through its
`valid_until` day in the desk's time zone. Everything else is `standard`, and the reason
says why when a coupon was there but did not count: expired, or belonging to another
customer (a coupon passed around is no contract of the sender's).

The coupon is looked for in the subject and the whole text, signature and quoted history
included (customers keep it in their signature; a follow-up quotes the first mail), case
insensitively, and may stand between any punctuation ("Купон: «CB7F3K92QX»."). Every
customer's codes are compiled once, when the rules are built. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailbot.config import Coupon, Customer
from mailbot.parse import Mail
from mailbot.rules import Context

EMERGENCY = "emergency"
STANDARD = "standard"

_Compiled = tuple[tuple[Coupon, re.Pattern[str]], ...]


@dataclass(frozen=True)
class CouponCheck:
    level: str
    """emergency | standard"""
    coupon: str | None
    """The code that made the level emergency, else None."""
    why: str
    """For the admin: what was found and why it counted or not."""


def _compiled(customer: Customer) -> _Compiled:
    return tuple(
        (
            coupon,
            re.compile(
                r"(?<![A-Za-z0-9])" + re.escape(coupon.code) + r"(?![A-Za-z0-9])", re.IGNORECASE
            ),
        )
        for coupon in customer.coupons
    )


class Coupons:
    """A desk's customers and their coupons, compiled once at start-up."""

    def __init__(self, customers: Sequence[Customer]) -> None:
        self.customers = tuple((c, _compiled(c)) for c in customers)
        self._by_name = {c.name: compiled for c, compiled in self.customers}

    def check(self, mail: Mail, context: Context) -> CouponCheck:
        """The service level a mail proves, and why."""
        text = f"{mail.subject}\n{mail.text}"
        today = context.now.astimezone(context.desk.zone).date()
        customer = context.customer
        expired: Coupon | None = None
        if customer is not None:
            own = self._by_name.get(customer.name)
            for coupon, pattern in own if own is not None else _compiled(customer):
                if not pattern.search(text):
                    continue
                if coupon.valid_until >= today:
                    return CouponCheck(
                        EMERGENCY,
                        coupon.code,
                        f"coupon {coupon.code} of {customer.name},"
                        f" valid until {coupon.valid_until}",
                    )
                expired = expired or coupon
        if expired is not None:
            return CouponCheck(
                STANDARD,
                None,
                f"coupon {expired.code} of {customer.name if customer else '?'} expired on"
                f" {expired.valid_until} (today is {today.isoformat()} in {context.desk.timezone})",
            )
        for other, compiled in self.customers:
            if customer is not None and other.name == customer.name:
                continue
            for coupon, pattern in compiled:
                if pattern.search(text):
                    sender = customer.name if customer is not None else "an unidentified sender"
                    return CouponCheck(
                        STANDARD,
                        None,
                        f"coupon {coupon.code} belongs to {other.name}, but the mail comes from"
                        f" {sender} ({mail.from_addr})",
                    )
        return CouponCheck(STANDARD, None, "no coupon of an emergency contract in the mail")
