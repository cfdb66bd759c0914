"""Which reply parser strips agents' replies right: the labelled set in tests/agent_replies/.

Each case is an agent's reply to a notice as a mail client writes it (Thunderbird, Outlook,
Gmail, in en, ru, uk, pl, sk, fa), then a line `#### expected`, then exactly what the customer
should get. A result counts when it equals the expected text (trailing spaces and surrounding
blank lines ignored). Libraries that are not installed are reported as such; talon (last
released 2017, scikit-learn and an old lxml) can be tried with `--talon-path DIR` holding a
`pip install --target DIR talon`.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/agent_replies.py [-v] [--talon-path DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

CASES = Path(__file__).resolve().parent.parent / "tests" / "agent_replies"


def load_cases() -> list[tuple[str, str, str]]:
    """(name, agent's text, expected) of every labelled case."""
    cases = []
    for path in sorted(CASES.glob("*.txt")):
        body, _, expected = path.read_text(encoding="utf-8").partition("\n#### expected\n")
        cases.append((path.stem, body, expected))
    return cases


def normalised(text: str | None) -> str:
    return "\n".join(line.rstrip() for line in (text or "").strip().splitlines())


def parsers(talon_path: str | None) -> dict[str, Callable[[str, str], str] | str]:
    """name -> function(text, language), or why it cannot run."""
    from mailbot import agent_reply

    found: dict[str, Callable[[str, str], str] | str] = {}
    try:
        from mailparser_reply import EmailReplyParser

        def mail_parser_reply(text: str, language: str) -> str:
            return EmailReplyParser(languages=[language]).parse_reply(text) or ""

        found["mail-parser-reply"] = mail_parser_reply
    except ImportError:
        found["mail-parser-reply"] = "not installed"
    import quotequail

    def quotequail_top(text: str, language: str) -> str:
        unwrapped = quotequail.unwrap(text)
        return unwrapped["text_top"] if unwrapped and "text_top" in unwrapped else text

    found["quotequail"] = quotequail_top
    if talon_path:
        sys.path.insert(0, talon_path)
    try:
        import talon
        from talon import quotations
        from talon.signature.bruteforce import extract_signature

        talon.init()

        def talon_both(text: str, language: str) -> str:
            return str(extract_signature(quotations.extract_from_plain(text))[0])

        found["talon"] = talon_both
    except ImportError as exc:
        found["talon"] = f"not installed ({exc.name})"
    found["our rules alone"] = lambda text, language: agent_reply.own_rules(text)
    found["mailbot.agent_reply (quotequail, then our rules)"] = lambda text, language: (
        agent_reply.clean(text)
    )
    return found


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("-v", "--verbose", action="store_true", help="show each miss")
    options.add_argument("--talon-path", help="a folder holding talon (pip install --target)")
    args = options.parse_args()
    cases = load_cases()
    for name, parser in parsers(args.talon_path).items():
        if isinstance(parser, str):
            print(f"{name}: {parser}")
            continue
        right = []
        for case, body, expected in cases:
            got = normalised(parser(body, case[:2]))
            if got == normalised(expected):
                right.append(case)
            elif args.verbose:
                print(f"  {name} missed {case}: ...{got[-120:]!r}")
        languages = sorted({c[:2] for c, _, _ in cases})
        per_language = " ".join(
            f"{lang} {sum(c.startswith(lang) for c in right)}/"
            f"{sum(c.startswith(lang) for c, _, _ in cases)}"
            for lang in languages
        )
        print(f"{name}: {len(right)} of {len(cases)} exactly right ({per_language})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
