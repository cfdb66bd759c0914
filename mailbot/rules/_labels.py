"""_labels: `Label: value` lines as customers copy them from a form, read the same by every rule.

A form copied into a mail ("Код проекта: AT-20417", "Модуль:\nЗаказы", "Шаги - ...") is the
surest way a customer says something; `product` reads the project line, `missing_fields` all
the others. A set of labels is compiled once (at start-up, or at import for a rule's own
labels) into one pattern. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mailbot.rules._keywords import fold

_PLACEHOLDERS = frozenset(
    {"", "-", "—", "–", "?", "...", "…", "нет", "не знаю", "n/a", "na", "none", "no", "-/-"}
)
# A line that starts like "Something: ..." (but not a URL): the next label of a form.
_LOOKS_LABELLED = re.compile(r"^(?!\s*https?://)[^:]{1,60}:")


def _value(value: str) -> str | None:
    value = value.strip(" .;,")
    if fold(value) in _PLACEHOLDERS or value.startswith("("):
        return None
    return value


def _next_line_value(line: str) -> bool:
    """A short line under an empty label is its value; a sentence or another label is not."""
    stripped = line.strip()
    if not stripped or _LOOKS_LABELLED.match(stripped) or stripped[-1] in ".!?":
        return False
    return len(stripped.split()) <= 5


@dataclass(frozen=True)
class Labels:
    """Labels (any case, any language) and the one pattern that finds a line under any of them."""

    names: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, *groups: Iterable[str]) -> Labels:
        names = tuple(dict.fromkeys(n for group in groups for n in group))
        alternatives = "|".join(
            re.escape(fold(x)) for x in sorted(set(names), key=len, reverse=True) if x
        )
        # `Label: value` at a line's start, allowing a list marker and a note in brackets
        pattern = re.compile(
            r"^(?:[-*•>]\s*|\d{1,2}[.)]\s*)?(?P<label>" + (alternatives or r"(?!)") + r")"
            r"(?:\s*\([^)]{0,60}\))?\s*(?::|\s[-–—]\s|[-–—]\s)\s*(?P<value>.*)$",
            re.IGNORECASE,
        )
        return cls(names, pattern)

    def lines(self, text: str) -> list[tuple[int, str, str | None]]:
        """(line index, label folded, value or None) of each labelled line.

        A value of "-", "?" or "нет" is what a customer leaves when copying a form unfilled,
        so it counts as none; an empty value may stand on the next line ("Модуль:\\nЗаказы")
        when that line is short and no sentence. Values keep their case (a name is
        capitalised).
        """
        lines = text.splitlines()
        found = []
        for index, line in enumerate(lines):
            match = self.pattern.match(" ".join(line.replace("ё", "е").replace("Ё", "Е").split()))
            if match is None:
                continue
            value = _value(match.group("value"))
            if value is None and not match.group("value").strip():
                following = next((ln for ln in lines[index + 1 : index + 3] if ln.strip()), "")
                if _next_line_value(following):
                    value = _value(" ".join(following.split()))
            found.append((index, fold(match.group("label")), value))
        return found

    def all(self, text: str) -> list[tuple[str, str]]:
        """Every `Label: value` line with a real value, as (label folded, value)."""
        return [(label, value) for _i, label, value in self.lines(text) if value]

    def first(self, text: str) -> tuple[str, str] | None:
        """The first `Label: value` line with a real value: (label folded, value)."""
        found = self.all(text)
        return found[0] if found else None

    def without_blanks(self, text: str) -> str:
        """The text without lines that are a label left unfilled ("Модуль: -")."""
        blank = {index for index, _label, value in self.lines(text) if value is None}
        return "\n".join(line for i, line in enumerate(text.splitlines()) if i not in blank)
