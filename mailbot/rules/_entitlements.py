"""The words that ask for a desk's entitled services, for the rules that must know. Pure.

`not_entitled` judges whether a customer has a service (training, an installation); an
exclusion of `out_of_scope` that names such a service (`unless_entitlement`) must see a
request for it the same way, to leave it to `not_entitled`. Rules do not import each other,
so both read the services' keywords here, from the `not_entitled` table of the desk file
(already validated when `for_desk` builds the rules).
"""

from __future__ import annotations

from mailbot.config import DeskSettings
from mailbot.rules._keywords import KeywordSet

RULE = "not_entitled"


def asked_for(desk: DeskSettings) -> dict[str, KeywordSet]:
    """Entitlement name -> the words asking for it, for a desk whose rules include
    `not_entitled`; empty otherwise (then no exclusion can yield to a service)."""
    if RULE not in desk.rules:
        return {}
    found: dict[str, KeywordSet] = {}
    for entitlement in desk.rule.get(RULE, {}).get("entitlements", []):
        if isinstance(entitlement, dict) and isinstance(entitlement.get("name"), str):
            found[entitlement["name"]] = KeywordSet.of(entitlement.get("keywords", {}))
    return found
