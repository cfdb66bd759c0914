"""references: the short name of a refused mail that its sender can quote back to us.

A refusal opens no ticket, so the customer has no ticket number to quote when they call or
write about it. The spool id (the SHA-256 of the mail's bytes) is what operators look the
mail up by, but 64 hex digits nobody reads out on the phone: the reference is its first
eight, upper case, behind `Q-` so that it does not pass for a ticket number. It is derived,
never stored: the same mail has the same reference in every reply and after every release,
and `quarantine show|release` accept it the way people retype it (any case, with or without
`Q-`, an id prefix as before).
"""

from __future__ import annotations

import re

REFERENCE_PREFIX = "Q-"
REFERENCE_DIGITS = 8
"""Hex digits of the spool id in a reference: 32 bits, unique among any desk's quarantine
for years; a clash is reported as ambiguous (views.find_quarantined), never guessed."""

_QUOTED = re.compile(r"^\s*[\[(<«„\"']*\s*(?:q\s*-\s*)?([0-9a-f]+)\s*[\])>»“\"'.,;:]*\s*$", re.I)


def quarantine_reference(spool_id: str) -> str:
    """`Q-7F3A9C21` for the spool id 7f3a9c21…"""
    return f"{REFERENCE_PREFIX}{spool_id[:REFERENCE_DIGITS].upper()}"


def spool_prefix(text: str) -> str:
    """The spool id prefix a person typed: a reference as quoted (`Q-7F3A9C21`, `q-7f3a9c21`,
    `7F3A9C21`, `[Q-7F3A9C21]` pasted from a subject) or the first characters of an id, lower
    case. Anything else is returned stripped and lower-cased, for the caller to reject."""
    found = _QUOTED.match(text)
    return found.group(1).lower() if found else text.strip().lower()
