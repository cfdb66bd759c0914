"""Identification of a stranger by company name and contract number (CleverBox, seed 004). Pure.

CleverBox's refusal of an unknown sender ("невозможность идентификации клиента") asks for
the company name and the contract number; a mail that gives both must be matched to the
customer. Both, of the same customer: a contract number is printed on invoices and
forwarded in mails, a company name is public, so either alone identifies nobody. What one
of them alone names is still worth saying in the refusal's detail, for the agent who looks
at the quarantine.

Read where a customer writes them: the subject and the new text with its signature (the
company usually stands there, "ТОВ «Вектор»"), never the quoted history (our own refusal,
quoted back, names nothing of theirs). Names are compared without quotes, case and legal
form (ТОВ, ООО, LLC...), the last word with a short inflected ending ("Вектора",
"Гаммы"); numbers by their letters and digits only, Cyrillic look-alikes read as Latin
("СВ 2024 117" is CB-2024-117).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mailbot.config import Customer, contract_key
from mailbot.parse import Mail
from mailbot.rules._keywords import fold
from mailbot.textnorm import clean_subject, new_text

LEGAL_FORMS = frozenset(
    {
        # Ukrainian and Russian forms, as customers write them before or after the name
        "тов", "тзов", "пп", "фоп", "прат", "пат", "тдв", "ооо", "оао", "зао", "пао", "ао",
        "ип", "чп", "ук", "llc", "ltd", "inc", "gmbh", "plc", "co", "corp", "sro", "s.r.o.",
    }
)  # fmt: skip
"""Words of a customer's name that say its legal form, not which company it is."""

_QUOTES = str.maketrans({q: " " for q in "«»\"„“”‟'‘’‚`"})
_SEPARATOR = r"[\s\-–—_/.]*"
_INFLECTED_END = re.compile(r"[аяоеыиіуюьй]$")


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """The company's own words, without quotes and legal form, as they stand in a mail."""
    words = fold(name.translate(_QUOTES)).replace(",", " ").split()
    core = [w for w in words if w.rstrip(".") not in LEGAL_FORMS] or words
    if not core:
        return None
    parts = [re.escape(w) for w in core]
    last = core[-1]
    if re.fullmatch(r"[а-яіїєґ]{4,}", last):
        # a Cyrillic name is declined in a sentence: "от Вектора", "для Гаммы"
        parts[-1] = re.escape(_INFLECTED_END.sub("", last)) + r"[а-яіїєґ]{0,3}"
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(parts) + r"(?!\w)")


def _number_pattern(number: str) -> re.Pattern[str]:
    """The number's letters and digits with any spaces, dashes, slashes or dots between."""
    chars = [re.escape(c) for c in contract_key(number)]
    return re.compile(r"(?<![^\W_])" + _SEPARATOR.join(chars) + r"(?![^\W_])")


def _numbers_text(text: str) -> str:
    """Text as numbers are searched in it: folded as `contract_key` folds a number (look-alike
    letters, case), its separators kept."""
    return "".join(contract_key(c) or c for c in text)


@dataclass(frozen=True)
class Identified:
    customer: Customer
    contract: str
    """The customer's contract number, as the desk file writes it."""


@dataclass(frozen=True)
class _Known:
    customer: Customer
    name: re.Pattern[str] | None
    numbers: tuple[tuple[str, re.Pattern[str]], ...]


class Contracts:
    """The desk's customers with contract numbers, their patterns compiled once."""

    def __init__(self, customers: Sequence[Customer]) -> None:
        self.known = tuple(
            _Known(c, _name_pattern(c.name), tuple((n, _number_pattern(n)) for n in c.contracts))
            for c in customers
            if c.contracts
        )

    @staticmethod
    def _texts(mail: Mail) -> tuple[str, str]:
        written = f"{clean_subject(mail.subject)}\n{new_text(mail.text, signature=True)}"
        return fold(written.translate(_QUOTES)), _numbers_text(written)

    def identify(self, mail: Mail) -> Identified | None:
        """The one customer whose name and one of whose contract numbers the mail gives."""
        if not self.known:
            return None
        names, numbers = self._texts(mail)
        found = [
            Identified(known.customer, number)
            for known in self.known
            if known.name is not None and known.name.search(names)
            for number, pattern in known.numbers
            if pattern.search(numbers)
        ]
        customers = {f.customer.name for f in found}
        return found[0] if len(customers) == 1 else None

    def one_factor(self, mail: Mail) -> str | None:
        """What a mail that identifies nobody gives of a customer: for the refusal's detail."""
        if not self.known:
            return None
        names, numbers = self._texts(mail)
        said = []
        for known in self.known:
            named = known.name is not None and known.name.search(names) is not None
            numbered = [n for n, pattern in known.numbers if pattern.search(numbers)]
            if numbered:
                said.append(f"contract {numbered[0]} of {known.customer.name}")
            elif named:
                said.append(f"the name of {known.customer.name}")
        if not said:
            return None
        return "it gives " + " and ".join(said) + ": not one customer's name and contract both"
