"""Detection benchmark: precision and recall of each guessing rule on the labelled mails.

What it measures: every rule of a shipped desk that guesses from the wording (a `detect`
method: exclusions, entitlements, the fields of a request, critical requests...) is run on
the mails of tests/labelled/<desk>.toml (and of <desk>.<topic>.toml, one rule's set kept
apart), written the way customers write, in the desk's languages. Each mail names the rule
it is for, the codes it is judged on (`judge`, default every code the desk's labelled mails
use for that rule) and the codes it must make the rule find (`expect`, empty for a mail that
must match nothing). Per code: true positives, false
positives (found, not expected), false negatives (expected, not found); precision and recall.

Exclusions and entitlements refuse on a strong match only (`KeywordSet.strong`); a weak one
opens the ticket with the doubt for the agent. For them the table also gives the precision
and recall of the refusals alone (`detect_refused`): a false refusal turns a customer away,
a detection only the agent sees costs a minute.

A labelled mail:

    [[mail]]
    rule = "out_of_scope"
    language = "pl"
    expect = ["data_operations"]        # [] : a negative, nothing may be found
    judge = ["data_operations"]         # optional: only these codes are scored on this mail
    customer = "Serwis Kowalski"        # optional: the desk customer it comes from
    subject = "Usunięcie zleceń"
    body = "Dzień dobry, czy da się wyczyścić wszystkie stare zlecenia z bazy?"

Run:
    .venv/bin/python benchmarks/detection.py                # the table, markdown
    .venv/bin/python benchmarks/detection.py --verbose      # and every miss
    .venv/bin/python benchmarks/detection.py --desk serwisant
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LABELLED = REPO / "tests" / "labelled"
NOW = datetime.fromisoformat("2026-11-25T10:00:00+00:00")
"""A Wednesday in every desk's week (crmonline's too): plans and packages are judged then."""
STRANGER = "someone@unknown-customer.test"


@dataclass(frozen=True)
class Labelled:
    desk: str
    rule: str
    language: str
    subject: str
    body: str
    expect: frozenset[str]
    judge: frozenset[str] | None = None
    customer: str | None = None
    now: datetime = NOW

    def shown(self) -> str:
        first = f"{self.subject} | {self.body}".replace("\n", " ")
        return first[:110] + ("..." if len(first) > 110 else "")


@dataclass
class Refusals:
    """A code's refusals: mails the rule would refuse for it (a strong match only)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Count(Refusals):
    """A code's detections, with how many mails it was judged on."""

    positives: int = 0
    negatives: int = 0


@dataclass
class Figures:
    counts: dict[tuple[str, str, str], Count] = field(default_factory=dict)
    """(desk, rule, code) -> counts."""
    misses: list[tuple[Labelled, frozenset[str]]] = field(default_factory=list)
    refusals: dict[tuple[str, str, str], Refusals] = field(default_factory=dict)
    """(desk, rule, code) -> what a strong match alone finds, for rules that tell
    (`detect_refused`: out_of_scope, not_entitled); a weak match opens the ticket."""


def desk_of(path: Path) -> str:
    """`<desk>.toml` or `<desk>.<topic>.toml` (one rule's set kept apart): the desk."""
    return path.stem.split(".", 1)[0]


def read_labelled(folder: Path = LABELLED, desks: Iterable[str] = ()) -> list[Labelled]:
    wanted = set(desks)
    mails = []
    for path in sorted(folder.glob("*.toml")):
        desk = desk_of(path)
        if wanted and desk not in wanted:
            continue
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for i, raw in enumerate(data.get("mail", [])):
            unknown = set(raw) - {
                "rule", "language", "subject", "body", "expect", "judge", "customer", "now",
            }  # fmt: skip
            if unknown:
                raise ValueError(f"{path}: mail {i + 1}: unknown keys {sorted(unknown)}")
            mails.append(
                Labelled(
                    desk=desk,
                    rule=raw["rule"],
                    language=raw["language"],
                    subject=raw.get("subject", ""),
                    body=raw["body"],
                    expect=frozenset(raw["expect"]),
                    judge=frozenset(raw["judge"]) if "judge" in raw else None,
                    customer=raw.get("customer"),
                    now=datetime.fromisoformat(raw["now"]) if "now" in raw else NOW,
                )
            )
    return mails


def evaluate(mails: Sequence[Labelled]) -> Figures:
    """Run each mail through its rule of the shipped desk and count per code."""
    from mailbot.config import load as load_config
    from mailbot.parse import parse
    from mailbot.rules import Context, Detector, load_rules

    config = load_config(REPO / "config" / "mailbot.toml", environ={})
    rules = {}
    for name, desk in config.desks.items():
        rules[name] = {rule.name: rule for rule in load_rules(desk, name)}
    universe: dict[tuple[str, str], set[str]] = {}
    for m in mails:
        universe.setdefault((m.desk, m.rule), set()).update(m.expect)
    figures = Figures()
    for m in mails:
        desk = config.desks[m.desk]
        rule = rules[m.desk].get(m.rule)
        if not isinstance(rule, Detector):
            raise ValueError(f"{m.desk}: no rule {m.rule!r} with a detect method in this desk")
        sender = STRANGER
        customer = None
        if m.customer is not None:
            customer = next((c for c in desk.customers if c.name == m.customer), None)
            if customer is None or not customer.contacts:
                raise ValueError(f"{m.desk}: no customer {m.customer!r} with a contact")
            sender = customer.contacts[0]
        message = EmailMessage(policy=SMTP)
        message["From"] = sender
        message["To"] = desk.addresses[0]
        message["Subject"] = m.subject
        message.set_content(m.body)
        mail = parse(
            message.as_bytes(),
            accepted_at=m.now,
            fallback_charsets=desk.fallback_charsets,
            languages=(desk.language, *desk.languages),
        )
        found, identified_by = desk.customer_for(mail.from_addr)
        context = Context(
            desk=desk,
            envelope_from=sender,
            now=m.now,
            customer=found if m.customer is not None else None,
            identified_by=identified_by if m.customer is not None else None,
            mail_language=m.language,
        )
        detected = frozenset(rule.detect(mail, context))
        refusing = getattr(rule, "detect_refused", None)
        refused = frozenset(refusing(mail, context)) if refusing is not None else None
        judged = m.judge if m.judge is not None else universe[(m.desk, m.rule)]
        wrong = False
        for code in judged | (detected & universe[(m.desk, m.rule)]):
            if m.judge is not None and code not in m.judge:
                continue
            count = figures.counts.setdefault((m.desk, m.rule, code), Count())
            if refused is not None:
                strong = figures.refusals.setdefault((m.desk, m.rule, code), Refusals())
                if code in refused and code in m.expect:
                    strong.tp += 1
                elif code in refused:
                    strong.fp += 1
                elif code in m.expect:
                    strong.fn += 1
            if code in m.expect:
                count.positives += 1
                if code in detected:
                    count.tp += 1
                else:
                    count.fn += 1
                    wrong = True
            else:
                count.negatives += 1
                if code in detected:
                    count.fp += 1
                    wrong = True
        if wrong:
            figures.misses.append((m, detected))
    return figures


def table(figures: Figures) -> str:
    """Per code: detection (every match) and, for rules that refuse on a strong match only,
    the refusals' precision and recall ("-" for rules that do not tell)."""
    lines = [
        "| desk | rule | code | positives | negatives | precision | recall "
        "| refusal precision | refusal recall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, c in sorted(figures.counts.items()):
        desk, rule, code = key
        r = figures.refusals.get(key)
        refusals = f"{r.precision:.2f} | {r.recall:.2f}" if r is not None else "- | -"
        lines.append(
            f"| {desk} | {rule} | {code} | {c.positives} | {c.negatives} "
            f"| {c.precision:.2f} | {c.recall:.2f} | {refusals} |"
        )
    return "\n".join(lines)


def overall(figures: Figures) -> str:
    """All codes together: detection and refusals (false refusals are the costly ones)."""
    tp = sum(c.tp for c in figures.counts.values())
    fp = sum(c.fp for c in figures.counts.values())
    fn = sum(c.fn for c in figures.counts.values())
    keys = figures.refusals.keys()
    dtp = sum(figures.counts[k].tp for k in keys)
    dfp = sum(figures.counts[k].fp for k in keys)
    dfn = sum(figures.counts[k].fn for k in keys)
    rtp = sum(r.tp for r in figures.refusals.values())
    rfp = sum(r.fp for r in figures.refusals.values())
    rfn = sum(r.fn for r in figures.refusals.values())

    def pr(t: int, f: int, n: int) -> str:
        p = t / (t + f) if t + f else 1.0
        r = t / (t + n) if t + n else 1.0
        return f"precision {p:.2f}, recall {r:.2f} ({t} right, {f} false, {n} missed)"

    return (
        f"all codes, detection: {pr(tp, fp, fn)}\n"
        f"out_of_scope + not_entitled, detection: {pr(dtp, dfp, dfn)}\n"
        f"out_of_scope + not_entitled, refusals: {pr(rtp, rfp, rfn)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--desk", action="append", default=[], help="only this desk (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="list every mail judged wrong")
    args = parser.parse_args(argv)
    mails = read_labelled(desks=args.desk)
    figures = evaluate(mails)
    print(f"{len(mails)} labelled mails\n")
    print(table(figures))
    print()
    print(overall(figures))
    if args.verbose:
        print()
        for m, detected in figures.misses:
            print(f"MISS {m.desk}/{m.rule}/{m.language} expect {sorted(m.expect)} "
                  f"got {sorted(detected)}: {m.shown()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
