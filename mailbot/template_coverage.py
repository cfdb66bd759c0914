"""template_coverage: every language a desk may answer in has the replies that desk sends.

The renderer falls back to English when a language lacks a template, so a desk that lists
`cs` without templates/cs/ would not fail: its Czech customers would quietly get English (or,
before Czech was detected, Slovak). `mailbot check-config` refuses that instead, naming the
desk file, the key that names the language, and the first missing template.

What a desk sends: the replies every desk sends its customers (acknowledgement, reopening,
solved, the bug notices and deadline extensions agents trigger) and, for each of its rules,
the reply named after it (`templates/<lang>/<reason>.txt.j2`, the reason being the rule's
name) where the English set has one: English is every reply's last resort, so it holds the
complete list, and rules that only annotate or drop (product, priority, loops) have none.
Agent-facing mail (notices, refused commands) is in the desk's language, as agents read it,
and is not asked of the other languages.
"""

from __future__ import annotations

from pathlib import Path

from mailbot.config import DeskSettings
from mailbot.errors import ConfigError

CUSTOMER_EVENTS = (
    "ack",
    "reopened",
    "reopened_as_new",
    "solved",
    "bug_confirmed",
    "bug_fixed",
    "extension",
)
"""Replies any desk sends its customers, whatever its rules."""

REFERENCE_LANGUAGE = "en"


def needed(desk: DeskSettings, templates_dir: Path) -> list[str]:
    """The replies `desk` can send a customer, by event name."""
    reference = templates_dir / REFERENCE_LANGUAGE
    rules = [r for r in desk.rules if (reference / f"{r}.txt.j2").is_file()]
    return list(dict.fromkeys([*CUSTOMER_EVENTS, *rules]))


def languages(desk: DeskSettings) -> list[tuple[str, str]]:
    """(key in the desk file, language) for every language the desk may answer in."""
    found = [("language", desk.language)]
    found += [("languages", lang) for lang in desk.languages]
    found += [
        (f"customers.{i}.language", c.language) for i, c in enumerate(desk.customers) if c.language
    ]
    return found


def check(desk: DeskSettings, templates_dir: Path, source: Path | str) -> None:
    """ConfigError naming file, key and template when a language lacks one of the replies."""
    events = needed(desk, templates_dir)
    for key, lang in languages(desk):
        folder = templates_dir / lang
        if not folder.is_dir():
            raise ConfigError(
                f"{source}: {key}: no templates for language {lang!r}"
                f" ({folder} is missing; it needs {lang}/{events[0]}.txt.j2 and"
                f" {len(events) - 1} more)"
            )
        missing = [e for e in events if not (folder / f"{e}.txt.j2").is_file()]
        if missing:
            more = f" and {len(missing) - 1} more ({', '.join(missing[1:])})" if missing[1:] else ""
            raise ConfigError(
                f"{source}: {key}: language {lang!r} lacks the template"
                f" {lang}/{missing[0]}.txt.j2{more} in {templates_dir}"
            )
