"""rules: the Rule protocol, Verdict, and the runner that applies a desk's ordered rule list.

Pure: a rule sees the parsed Mail and a read-only Context and returns a Verdict or None. It
never does I/O and never writes; whatever it needs to know (desk settings, customers, recent
history) arrives in the Context. A new rule is one file here with `RULE = ...` at the bottom
and one name in a desk's `rules = [...]`; an unknown name stops start-up.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from mailbot.errors import ConfigError

if TYPE_CHECKING:
    from mailbot.config import DeskSettings
    from mailbot.parse import Mail


class Action(enum.StrEnum):
    drop = "drop"
    """Recorded, but no ticket and no reply (auto-replies, bounces, lists)."""
    quarantine = "quarantine"
    """Kept with its reason for a human to release; no ticket yet."""
    annotate = "annotate"
    """Facts for the ticket (product, priority...); processing goes on."""


@dataclass(frozen=True)
class Verdict:
    rule: str
    action: Action
    reason: str
    """A reason code from the public list (auto_reply, oversized, duplicate...)."""
    detail: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def stops(self) -> bool:
        return self.action in (Action.drop, Action.quarantine)


@dataclass(frozen=True)
class Context:
    desk: DeskSettings
    envelope_from: str | None
    """SMTP MAIL FROM: '' is the null path <> (a bounce); None when unknown (file ingest)."""
    now: datetime


class Rule(Protocol):
    name: str
    description: str

    def check(self, mail: Mail, context: Context) -> Verdict | None: ...


@dataclass(frozen=True)
class Judgement:
    verdicts: tuple[Verdict, ...]

    @property
    def stopping(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.stops), None)

    @property
    def annotations(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for verdict in self.verdicts:
            merged.update(verdict.annotations)
        return merged


def load_rules(names: Sequence[str], where: str = "rules") -> tuple[Rule, ...]:
    """Resolve rule names to rules; `where` names the config key for the error message."""
    rules = []
    for name in names:
        if not name.isidentifier():
            raise ConfigError(f"{where}: {name!r} is not a rule name")
        try:
            module = importlib.import_module(f"mailbot.rules.{name}")
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"{where}: unknown rule {name!r} (no mailbot/rules/{name}.py)"
            ) from exc
        rule = getattr(module, "RULE", None)
        if rule is None:
            raise ConfigError(f"{where}: mailbot/rules/{name}.py defines no RULE")
        rules.append(rule)
    return tuple(rules)


def run(rules: Sequence[Rule], mail: Mail, context: Context) -> Judgement:
    """Apply rules in the desk's order; the first drop or quarantine ends the run."""
    verdicts: list[Verdict] = []
    for rule in rules:
        verdict = rule.check(mail, context)
        if verdict is None:
            continue
        verdicts.append(verdict)
        if verdict.stops:
            break
    return Judgement(tuple(verdicts))
