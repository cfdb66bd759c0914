"""several_problems: one problem per request (CleverBox, seed 004, special requests §5).

"В одном обращении может решаться только одна проблема": a mail that lists several separate
faults opens its ticket for the first and is answered with a request to send the others as
separate mails (the acknowledgement says so, `reply`); nothing is refused, because an
agent who reads two problems in one ticket loses less than a customer whose mail is sent
back. Hence the rule guesses only from what customers write when they mean it:

- a word that announces another problem ("и ещё одна проблема", "вторая проблема", "у нас
  несколько проблем", "another issue"): `markers`;
- a list (numbered or bulleted) of which two items or more state a fault (`faults`: "не
  работает", "ошибк*", "зник*"), unless the line above it says the list is one problem's
  steps, checks or symptoms (`one_problem`: "как воспроизвести", "что проверили", "steps")
  or itself states the fault the items then detail ("почтовый модуль перестал работать:");
- prose cut by words that add an item ("во-первых ... во-вторых", "также", "також",
  "кроме того": `separators`) of which two parts or more state a fault; a part that tells
  what the fault before it causes ("по-друге, через це ми не можемо...": `consequences`) is
  no second problem.

A list of steps names its fault once, at the end; "во-первых, спасибо; во-вторых, <the
problem>" has one part with a fault; "это одна и та же проблема" (`one_problem` anywhere)
ends the guess (`same_problem`). What the customer quoted is not read.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from mailbot.parse import Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict, _keywords
from mailbot.rules._keywords import KeywordSet, check_keywords, check_phrases
from mailbot.textnorm import new_text

CODE = "several_problems"
_ITEM = re.compile(r"^\s*(?:\d{1,2}\s*[.)]|[^\W\d_]\)|[-*•–—])\s+(\S.*)$")
"""A list item: "1.", "2)", "а)", "b)", or a bullet ("-", "*", "•", a dash)."""


class NegatedVerbs(RuleSettings):
    negations: list[str] = Field(min_length=1)
    """Words that negate the verb after them ("не")."""
    endings: list[str] = Field(min_length=1)
    """Endings of the verb forms that state a fault ("ется", "ются", "ит", "ло")."""

    @field_validator("negations", "endings")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        if not all(re.fullmatch(r"\w+", w) for w in value):
            raise ValueError("single words only, without `*`")
        return value

    def pattern(self) -> str:
        negations = "|".join(re.escape(_keywords.fold(n)) for n in self.negations)
        endings = "|".join(re.escape(_keywords.fold(e)) for e in self.endings)
        return rf"(?<!\w)(?:{negations})\s+\w+(?:{endings})(?!\w)"


class SeveralProblems:
    name = "several_problems"
    description = "the mail lists several separate problems: ask to send one per mail"
    codes = (CODE,)

    class Settings(RuleSettings):
        markers: dict[str, list[str]]
        """Language -> phrases announcing another problem ("ещё одна проблема")."""
        separators: dict[str, list[str]]
        """Language -> words that add an item to what was said ("во-вторых", "также")."""
        faults: dict[str, list[str]]
        """Language -> phrases that state a fault ("не работает", "ошибк*")."""
        one_problem: dict[str, list[str]]
        """Language -> phrases heading a list of one problem's steps or checks ("шаги")."""
        same_problem: dict[str, list[str]]
        """Language -> phrases saying the mail is about one problem ("та же проблема")."""
        consequences: dict[str, list[str]] = Field(default_factory=dict)
        """Language -> words that tell a part as what the fault before it causes ("через це",
        "из-за этого"): "во-первых, не формируется акт; во-вторых, из-за этого бухгалтерия не
        может..." is one problem and its consequence. None by default (every part counts)."""
        negated_verbs: dict[str, NegatedVerbs] = Field(default_factory=dict)
        """Language -> a negation and a verb's endings: "не подтягиваются", "не вантажиться"
        state a fault whatever the verb, which no list of verbs covers."""

        _checked = field_validator(
            "markers", "separators", "faults", "one_problem", "same_problem"
        )(check_keywords)
        _consequences_ok = field_validator("consequences")(check_phrases)

    def __init__(self, settings: Settings) -> None:
        self.markers = KeywordSet.of(settings.markers)
        self.separators = KeywordSet.of(settings.separators)
        self.faults = KeywordSet.of(settings.faults)
        self.one_problem = KeywordSet.of(settings.one_problem)
        self.same_problem = KeywordSet.of(settings.same_problem)
        self.consequences = KeywordSet.of(settings.consequences)
        negated = [v.pattern() for v in settings.negated_verbs.values()]
        self.negated = re.compile("|".join(negated) or r"(?!)")

    def states_fault(self, text: str) -> bool:
        """A fault in already-folded `text`: a listed phrase or a negated verb."""
        return self.faults.matches(text) or self.negated.search(text) is not None

    def why(self, mail: Mail) -> str | None:
        """What tells several problems apart in the mail, or None."""
        text = _keywords.searchable(mail)
        if self.same_problem.matches(text):
            return None
        marker = self.markers.first(text)
        if marker is not None:
            return f"announces another problem: {marker!r}"
        listed = self._list_of_faults(mail)
        if listed is not None:
            return listed
        # the body only: a subject naming the fault ("Не работает") is no part of its own
        body = _keywords.fold(new_text(mail.text))
        parts = [
            p
            for p in self.separators.pattern.split(body)
            if self.states_fault(p) and not self.consequences.matches(p)
        ]
        if len(parts) >= 2 and self.separators.matches(body):
            return f"{len(parts)} parts state a fault, joined by {self.separators.first(body)!r}"
        return None

    def _list_of_faults(self, mail: Mail) -> str | None:
        lines = new_text(mail.text).splitlines()
        intro = ""
        items: list[str] = []
        runs: list[tuple[str, list[str]]] = []
        for line in lines:
            item = _ITEM.match(line)
            if item is not None:
                items.append(_keywords.fold(item.group(1)))
                continue
            if not line.strip():
                continue
            if items:
                runs.append((intro, items))
                items = []
            intro = _keywords.fold(line)
        if items:
            runs.append((intro, items))
        for intro, run in runs:
            faulty = [i for i in run if self.states_fault(i)]
            if len(faulty) < 2:
                continue
            if self.one_problem.matches(intro) or self.states_fault(intro):
                continue  # steps or checks of one problem, or the symptoms of the one above
            return f"a list of {len(run)} items, {len(faulty)} of them faults"
        return None

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        return frozenset({CODE}) if self.why(mail) is not None else frozenset()

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        if not context.is_new_request:
            return None
        why = self.why(mail)
        if why is None:
            return None
        return Verdict(self.name, Action.annotate, CODE, why, reply=CODE)


RULE = SeveralProblems
