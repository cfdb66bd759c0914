"""priority: impact on the organisation x urgency -> P1..P4, the ITIL way (cloudempiere, seed 001).

The regulation assigns priority from the overall impact on the organisation and the
urgency ("Celkový dopad na organizáciu a naliehavosť sa používa k prideleniu úrovne
priority"), the ITIL 3x3 matrix. Both are read from what the customer wrote: "celá firma
nemôže fakturovať" is a high impact, "jeden používateľ" a low one; "ihneď", "urgentne",
"kritické" a high urgency. What is not said is the desk's default (medium, medium -> P3).

Each dimension's levels are tried in its table's order and the first found wins. Impact
goes from high down, so a whole company named anywhere outweighs one user mentioned in
passing; urgency tries "low" first, because its words are explicit denials ("nie je to
urgentné") that contain the very word a high urgency looks for.

Per-customer SLA contracts override the deadlines a priority leads to, not the priority.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import FirstOf, Tables, check_tables

LEVELS = ("high", "medium", "low")
Level = Literal["high", "medium", "low"]


def _itil_matrix() -> dict[str, dict[str, str]]:
    return {
        "high": {"high": "P1", "medium": "P2", "low": "P3"},
        "medium": {"high": "P2", "medium": "P3", "low": "P4"},
        "low": {"high": "P3", "medium": "P4", "low": "P4"},
    }


def _levels(value: Tables) -> Tables:
    unknown = [level for level in value if level not in LEVELS]
    if unknown:
        raise ValueError(f"unknown level {unknown[0]!r}; levels are high, medium, low")
    return check_tables(value)


class Priority:
    name = "priority"
    description = "priority P1..P4 from impact on the organisation and urgency (ITIL matrix)"

    class Settings(RuleSettings):
        matrix: dict[str, dict[str, str]] = Field(default_factory=_itil_matrix)
        """Impact -> urgency -> priority; all nine cells (ITIL's by default)."""
        impact_keywords: Tables
        """Level -> language -> words; levels tried in this order, the first found wins.
        Required (the words are the desk's); `{}` leaves every mail at `default_impact`."""
        urgency_keywords: Tables
        """Level -> language -> words; levels tried in this order, the first found wins.
        Required (the words are the desk's); `{}` leaves every mail at `default_urgency`."""
        default_impact: Level = "medium"
        default_urgency: Level = "medium"

        _impact_levels = field_validator("impact_keywords")(_levels)
        _urgency_levels = field_validator("urgency_keywords")(_levels)

        @field_validator("matrix")
        @classmethod
        def _matrix(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
            for impact in LEVELS:
                for urgency in LEVELS:
                    cell = value.get(impact, {}).get(urgency, "")
                    if not cell.strip():
                        raise ValueError(f"no priority for impact {impact}, urgency {urgency}")
            named = [*value, *(urgency for row in value.values() for urgency in row)]
            extra = [level for level in named if level not in LEVELS]
            if extra:
                raise ValueError(f"unknown level {extra[0]!r}; levels are high, medium, low")
            return value

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.impact = FirstOf.of(settings.impact_keywords)
        self.urgency = FirstOf.of(settings.urgency_keywords)
        self.codes = tuple(sorted({settings.matrix[i][u] for i in LEVELS for u in LEVELS}))

    def _assess(self, mail: Mail) -> tuple[str, str, str, str, str]:
        """impact, why, urgency, why, priority."""
        text = _keywords.searchable(mail)[: _keywords.READ_CHARS]
        settings = self.settings
        impact, impact_why = _level(text, self.impact, settings.default_impact)
        urgency, urgency_why = _level(text, self.urgency, settings.default_urgency)
        return impact, impact_why, urgency, urgency_why, settings.matrix[impact][urgency]

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """The one priority the ticket would get (P1..P4 by default)."""
        return frozenset({self._assess(mail)[4]})

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        impact, impact_why, urgency, urgency_why, priority = self._assess(mail)
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"impact {impact} ({impact_why}), urgency {urgency} ({urgency_why})"
            f" -> {priority}",
            annotations={"impact": impact, "urgency": urgency, "priority": priority},
        )


def _level(text: str, levels: FirstOf, default: str) -> tuple[str, str]:
    found = levels.first(text)
    if found is None:
        return default, "the default"
    level, word = found
    return level, f"found {word!r}"


RULE = Priority
